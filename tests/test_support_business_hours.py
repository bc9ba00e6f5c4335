"""Business hours: outside them, a new conversation gets the after-hours notice instead of the
acknowledgement."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from errbot_support.business_hours import parse
from errbot_support.settings import SettingsError, read_settings
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import AGENT_ROOM, support_bot

HOURS = ("Mon-Fri 09:00-18:00", "sat 10:00-13:00", "Sun 22:00-24:00")
AWAY = "We are away; back at 9."
ACK = "Thanks for your message! Someone from our team will answer you here shortly."


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026 (Paris is UTC+1): the 23rd is a Monday."""
    return datetime(2026, 11, day, hour - 1, minute, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (paris(23, 9), True),  # Monday, opening
        (paris(23, 8, 59), False),
        (paris(27, 17, 59), True),  # Friday
        (paris(27, 18), False),  # closing time is closed
        (paris(28, 12), True),  # Saturday morning
        (paris(28, 14), False),
        (paris(29, 12), False),  # Sunday
        (paris(29, 23, 30), True),  # until midnight
    ],
)
def test_hours_are_read_in_the_offices_time_zone(moment, open_):
    assert parse(HOURS, "Europe/Paris").open_at(moment) is open_


def test_summer_time_moves_with_the_clock_on_the_wall():
    hours = parse(["Mon-Sun 09:00-10:00"], "Europe/Paris")
    july = datetime(2026, 7, 1, 7, 30, tzinfo=timezone.utc)  # 09:30 in Paris (UTC+2)
    assert hours.open_at(july)
    assert not hours.open_at(datetime(2026, 12, 1, 7, 30, tzinfo=timezone.utc))  # 08:30


def test_day_ranges_may_wrap_around_the_week():
    hours = parse(["Fri-Mon 10:00-11:00"], "UTC")
    on = [datetime(2026, 11, d, 10, 30, tzinfo=timezone.utc) for d in range(23, 30)]
    assert [hours.open_at(moment) for moment in on] == [
        True,  # Monday
        False,
        False,
        False,
        True,  # Friday
        True,
        True,
    ]


def test_outside_business_hours_a_new_conversation_is_told_when_agents_are_back(tmp_path):
    with support_bot(
        tmp_path,
        SUPPORT_BUSINESS_HOURS=HOURS,
        SUPPORT_TIMEZONE="Europe/Paris",
        SUPPORT_AFTER_HOURS_NOTICE=AWAY,
    ) as bot:
        bot.customer("dana-chat", "anyone there?", sent_at=paris(23, 3))
        bot.customer("erin-chat", "hello", sent_at=paris(23, 10))
        assert bot.bodies("dana-chat") == [AWAY]
        assert bot.bodies("erin-chat") == [ACK]
        assert f"(automatic) to dana: {AWAY}" in bot.command("alice", "!transcript 1")
        assert bot.bodies(AGENT_ROOM)[0].startswith("#1 New conversation with dana")


@pytest.mark.parametrize(
    ("settings", "sentence"),
    [
        ({"SUPPORT_BUSINESS_HOURS": "Mon-Fri 9-18"}, "'Mon-Fri 9-18' is not like"),
        ({"SUPPORT_BUSINESS_HOURS": "Mon-Fry 09:00-18:00"}, "names a day that is not one of"),
        ({"SUPPORT_BUSINESS_HOURS": "Mon 18:00-09:00"}, "ends before it starts"),
        ({"SUPPORT_BUSINESS_HOURS": "Mon 09:00-25:00"}, "25:00, which is not a time of day"),
        (
            {"SUPPORT_BUSINESS_HOURS": "Mon 09:00-18:00", "SUPPORT_TIMEZONE": "Paris"},
            "'Paris' is not a time zone name",
        ),
    ],
)
def test_unusable_business_hours_are_named_in_one_sentence(tmp_path, settings, sentence):
    config = SimpleNamespace(SUPPORT_AGENT_ROOM="#support", BOT_DATA_DIR=str(tmp_path), **settings)
    with pytest.raises(SettingsError) as refused:
        read_settings(config)
    assert str(refused.value).startswith("SUPPORT_BUSINESS_HOURS / SUPPORT_TIMEZONE: ")
    assert sentence in str(refused.value)
