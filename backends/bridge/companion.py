"""``!bridge status``: the admin's view of every network the bot lives on."""

from __future__ import annotations

from typing import Any

from errbot import BotPlugin, botcmd

from errbot_bridge.backend import Bridge
from errbot_bridge.network import NetworkStatus


def describe(status: NetworkStatus) -> str:
    """One line per network: what it runs, whether it is up and since when."""
    since = status.since.strftime("%Y-%m-%d %H:%M:%S UTC")
    if status.connected:
        line = f"connected since {since}"
        if status.reconnections:
            line += f", reconnected {_times(status.reconnections)}"
    else:
        line = f"NOT connected since {since}"
        if status.reconnect_attempts:
            line += f", {status.reconnect_attempts} reconnect attempt(s) so far"
        if status.last_error:
            line += f", last error: {status.last_error}"
    return f"- **{status.name}** ({status.backend}): {line}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


class BridgeCommands(BotPlugin):
    """Shows the networks of a bridged bot."""

    @botcmd(admin_only=True)
    def bridge_status(self, msg: Any, args: str) -> str:
        """Each network of the bot: its backend, connected or not since when, reconnections."""
        bot = self._bot
        if not isinstance(bot, Bridge):
            return (
                f"This bot is not bridged: it runs the {bot.mode} backend alone "
                '(BACKEND = "Bridge" with BRIDGE_BACKENDS hosts several backends in one bot).'
            )
        lines = [describe(status) for status in bot.network_status()]
        return "Networks of this bot:\n" + "\n".join(lines)
