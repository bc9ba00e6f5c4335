"""Each agent command answered once, however many instances run: who answers, per network.

How a network hands a message to several instances of one bot decides it:

- Slack (Socket Mode, or the Events API behind one URL): Slack hands each event to ONE of the
  app's connections, so the instance that gets a command is the only one that can answer it:
  it acts on it, standing by or not (the store is shared and takes one claim, one reply).
  Every instance stays in the agent rooms there (they are one Slack user: a standby leaving a
  channel would take the app out of it).
- IRC and the others: each instance is a user of its own (its own nick) and every user in a
  room reads every message. Only the active instance is in the agent rooms (a standby leaves
  them), and an instance standing by ignores what it reads in a room, in case it is there. A
  direct message reaches only the instance it is written to: a standby answers it with one
  sentence naming the agent rooms, where the active instance answers, and does nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import Enum
from typing import Any

from errbot.backends.base import Message

from errbot_support.identities import network_of

log = logging.getLogger(__name__)

#: Errbot backend modes whose network hands each event to one of the bot's connections.
ONE_CONNECTION_PER_EVENT = ("slack", "slackv3")


class Standby(Enum):
    """What an instance standing by does with a command it received."""

    ACT = "act"  # nobody else got it: answer it here
    IGNORE = "ignore"  # the active instance read it too and answers it
    REFUSE = "refuse"  # written to this instance only: say where to write instead


def backend_of(bot: Any, identifier: Any) -> Any:
    """The backend serving ``identifier``: with the Bridge, its network's; else the bot."""
    network = network_of(identifier)
    hosted = getattr(bot, "networks", None)
    if network is not None and hosted is not None:
        try:
            return hosted[network].backend
        except Exception:  # not a network this bot hosts: judge by the bot itself
            pass
    return bot


def one_connection_per_event(backend: Any) -> bool:
    """Whether the network hands each event to only one of the bot's connections (Slack)."""
    return str(getattr(backend, "mode", "") or "").lower() in ONE_CONNECTION_PER_EVENT


def on_standby(bot: Any, msg: Message) -> Standby:
    """What an instance standing by does with the command in ``msg``."""
    if one_connection_per_event(backend_of(bot, msg.frm)):
        return Standby.ACT
    return Standby.IGNORE if msg.is_group else Standby.REFUSE


def refusal(rooms: Iterable[str]) -> str:
    """The one answer a standby gives to a command written to it directly."""
    return (
        "This instance of the support bot is standing by; another one answers the agents: "
        f"write your commands in {', '.join(rooms)}."
    )


def stays_in_rooms(bot: Any, room: Any) -> bool:
    """Whether a standby stays in the agent room ``room`` (where all instances are one user)."""
    return one_connection_per_event(backend_of(bot, room))


def leave_rooms(bot: Any, rooms: Iterable[Any]) -> None:
    """A standby leaves the agent rooms where each instance is a user of its own (IRC), so
    that only the active instance reads the commands written there."""
    for room in rooms:
        if stays_in_rooms(bot, room):
            continue
        try:
            if room.joined:
                room.leave("another instance faces the agents")
        except Exception as exc:  # the network is down: the bot is out of the room anyway
            log.warning("Could not leave the agent room %s: %s", room, exc)
