"""The Support plugin on a bot that does not run support.

Installing the package makes Errbot load the plugin on every bot, a PubNub-only bot included:
there it must stay quiet and inert, and its commands say what to set.
"""

from __future__ import annotations

import logging
import queue
from types import SimpleNamespace

from errbot_support.settings import NOT_CONFIGURED, in_use
from tests.botrunner import make_config, running_bot, wait_for


def _until_answer(bot, answer: str) -> list[str]:
    """Everything the bot sent up to ``answer``, in order (admins' warnings come first)."""
    sent = []
    while answer not in sent:
        try:
            sent.append(bot.pop_message(timeout=20))
        except queue.Empty:
            raise AssertionError(f"no {answer!r} among {sent!r}") from None
    return sent


def test_without_any_support_setting_the_plugin_is_inert_and_its_commands_say_what_to_set(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    config = make_config(tmp_path)
    with running_bot("Test", config) as running:
        plugin = running.plugin("Support")
        # Active all the same, so that its commands can answer (the bot counts as started
        # once any plugin is: wait for this one).
        wait_for(lambda: plugin.is_activated)
        running.bot.push_message("!claim 1")
        first = _until_answer(running.bot, NOT_CONFIGURED)
        running.bot.push_message("!reply 1 hello")
        assert running.bot.pop_message(timeout=20) == NOT_CONFIGURED
        running.bot.push_message("just chatting")  # reaches callback_message: nothing happens
        running.bot.push_message("!queue")
        assert running.bot.pop_message(timeout=20) == NOT_CONFIGURED

    assert first[-1] == NOT_CONFIGURED
    assert not [text for text in first[:-1] if "Support" in text or "SUPPORT_" in text]
    assert not (tmp_path / "support.sqlite").exists()
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == plugin.log.name]
    assert said == [
        (logging.INFO, "Support is not in use on this bot: no SUPPORT_AGENT_ROOM is set.")
    ]


def test_any_support_setting_means_support_is_meant_to_run():
    assert not in_use(SimpleNamespace(BOT_PREFIX="!", SUPPORT_DB_URL=None))
    assert in_use(SimpleNamespace(SUPPORT_AGENTS=["alice"]))
    assert in_use(SimpleNamespace(SUPPORT_AGENT_ROOM="#support"))
