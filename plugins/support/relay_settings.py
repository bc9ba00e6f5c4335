"""What every agent room's relay is set to, and the small values it works with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

RELAY_BATCH = 50  # recorded messages read from the store at a time
WINDOW = 500  # waiting messages of one room a relay holds at a time
PER_CONVERSATION = 200  # of them, of one conversation at most (a flood hides no one)
REREAD_AFTER = 0.5  # seconds: on a paced room, what waits is read again between two posts
#: A flooding conversation's share of a paced room: one post in the time of this many (on IRC
#: at its default pace, 6 posts a minute).
FLOOD_SHARE = 10
#: On a paced network, the pieces (IRC: lines) of one message posted in one turn: an
#: announcement's lines together, a very long message taking turns with the others.
PIECES_PER_TURN = 5
FRESH_KEPT = 1000  # messages just recorded handed over as they are; beyond, read from the store
SHOWN_KEPT = 50_000  # entries remembered as shown (far more than marks ever queued)
SERVED_KEPT, SERVED_MEMORY = 1000, 600.0  # conversations' last turns kept, seconds


class Outcome(Enum):
    POSTED = "posted"
    REFUSED = "refused"  # for what the post holds
    DOWN = "down"  # the network, or the bot's place in the room


@dataclass(frozen=True)
class RelaySettings:
    """What every relay of an activation shares: ``prefix`` of the commands it names,
    ``join_as`` (the bot's name when it joins a room), ``warn_admins``, ``retry_interval``
    (seconds between two tries at a room that is down, and between two looks at the store),
    ``flood_per_minute`` (the rate beyond which a customer floods)."""

    prefix: str
    join_as: str | None
    warn_admins: Callable[[str], None]
    retry_interval: float
    flood_per_minute: int


@dataclass
class Progress:
    """A message on its way in pieces: which are posted already (kept until all are)."""

    pieces: list[str]
    posted: int = 0
    cut_smaller: bool = False
