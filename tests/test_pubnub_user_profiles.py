"""Customers shown by the name, and with the details, their app keeps in PubNub App Context."""

from __future__ import annotations

import logging

import pytest
from pubnub.errors import PNERR_CLIENT_ERROR
from pubnub.exceptions import PubNubException

from errbot_pubnub.settings import PubNubConfigurationError, read_settings
from errbot_pubnub.user_profiles import Profile, UserProfiles
from errbot_support.intake import customer_details
from tests.botrunner import make_config
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import AGENT_ROOM, bridged_support_bot


def test_agents_see_the_customers_app_context_name(tmp_path, pubnub_server, customers):
    with bridged_support_bot(tmp_path, pubnub_server) as bot:
        dana, erin = customers("dana"), customers("erin")
        dana.client.set_uuid_metadata().uuid("dana").set_name("Dana Smith").sync()
        dana.write("Hi, my parcel has not arrived")
        announced = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "dana" in s.body).body
        assert announced.startswith("#1 New conversation with Dana Smith (")
        dana.write("Still nothing")
        bot.wait_sent(lambda s: "Still nothing" in s.body)
        assert pubnub_server.request_count("get_uuid_metadata") == 1  # kept, not asked again
        erin.write("hello")  # no App Context: the user id stands in
        erin_line = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "erin" in s.body).body
        assert erin_line.startswith("#2 New conversation with erin (")
        assert "Dana Smith" in bot.command("alice", "!queue")


def test_agents_see_the_customers_email_id_and_profile_link(tmp_path, pubnub_server, customers):
    with bridged_support_bot(tmp_path, pubnub_server) as bot:
        dana = customers("dana")
        dana.client.set_uuid_metadata().uuid("dana").set_name("Dana Smith").email(
            "dana@example.com"
        ).external_id("4411").profile_url("https://crm.example.com/dana").sync()
        dana.write("Hi, my parcel has not arrived")
        about = (
            f"({dana.room}; email dana@example.com, customer id 4411, "
            "profile https://crm.example.com/dana)"
        )
        announced = bot.wait_sent(lambda s: s.to == AGENT_ROOM).body
        assert announced.startswith(f"#1 New conversation with Dana Smith {about}:\n")
        claimed = bot.command("alice", "!claim 1")
        assert claimed.startswith(f"#1 is yours, alice. Dana Smith {about} so far:")
        transcript = bot.command("alice", "!transcript 1")
        assert transcript.startswith(f"#1 Dana Smith {about}, assigned to alice, page 1/1:")
        history = bot.command("alice", "!customer Dana Smith")
        assert history.startswith(f"Dana Smith {about}: 1 conversation(s)")


def test_without_user_names_the_user_id_is_shown_and_nothing_is_asked(
    tmp_path, pubnub_server, customers
):
    customers_overrides = {"PUBNUB_USER_NAMES": False}
    with bridged_support_bot(tmp_path, pubnub_server, **customers_overrides) as bot:
        dana = customers("dana")
        dana.client.set_uuid_metadata().uuid("dana").set_name("Dana Smith").sync()
        dana.write("Hi")
        announced = bot.wait_sent(lambda s: s.to == AGENT_ROOM).body
        assert announced.startswith("#1 New conversation with dana (")
        assert pubnub_server.request_count("get_uuid_metadata") == 0


def refused(status: int) -> PubNubException:
    return PubNubException(pn_error=PNERR_CLIENT_ERROR, errormsg="refused", status_code=status)


def test_a_refusal_is_said_once_and_every_failure_falls_back_to_the_user_id(caplog):
    answers = {"dana": refused(403), "erin": refused(403), "fay": RuntimeError("boom")}
    asked = []

    def fetch(user_id: str) -> dict | None:
        asked.append(user_id)
        answer = answers.get(user_id, {"id": user_id, "name": f"  {user_id.title()}  "})
        if isinstance(answer, Exception):
            raise answer
        return answer

    now = [0.0]
    profiles = UserProfiles(fetch, ttl=60, clock=lambda: now[0])
    gus = Profile(name="Gus")
    with caplog.at_level(logging.WARNING, logger="errbot_pubnub.user_profiles"):
        assert [profiles.profile_of(u) for u in ("dana", "erin", "fay", "gus")] == [
            None,
            None,
            None,
            gus,
        ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "GET on uuids" in warnings[0]
    assert profiles.profile_of("gus") == gus and profiles.profile_of("dana") is None
    assert asked == ["dana", "erin", "fay", "gus"]  # answers, failures included, are kept
    now[0] = 61
    assert profiles.profile_of("gus") == gus
    assert asked[-1] == "gus"  # asked again once they are older than the ttl


def test_a_profile_keeps_only_texts_worth_showing():
    assert Profile.from_app_context(None) is None
    assert Profile.from_app_context({"id": "dana", "name": " ", "email": None}) is None
    profile = Profile.from_app_context(
        {"id": "dana", "email": " dana@example.com ", "externalId": 4411, "custom": {"x": 1}}
    )
    assert profile == Profile(email="dana@example.com")
    assert profile.details() == {"email": "dana@example.com"}


def test_the_support_plugin_takes_only_known_details_as_texts():
    given = {
        "email": " dana@example.com ",
        "external_id": 4411,  # not a text: left out
        "profile_url": "https://crm.example.com/" + "x" * 600,
        "phone": "+33 1 23 45 67 89",  # not a detail the plugin knows
    }
    assert customer_details(given) == {
        "email": "dana@example.com",
        "profile_url": ("https://crm.example.com/" + "x" * 600)[:512],
    }
    assert customer_details("dana@example.com") == {}


@pytest.mark.parametrize("value", ["yes", 1])
def test_user_names_must_be_a_switch(tmp_path, value):
    config = make_config(
        tmp_path,
        BOT_IDENTITY={"publish_key": "pub-c-x", "subscribe_key": "sub-c-x"},
        PUBNUB_USER_NAMES=value,
    )
    with pytest.raises(PubNubConfigurationError, match="PUBNUB_USER_NAMES must be True or False"):
        read_settings(config)
