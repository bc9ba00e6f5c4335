"""Parse the textual identifiers of the PubNub backend (what ``str()`` of each one gives)."""

from __future__ import annotations

from errbot_pubnub.person import OCCUPANT_SEPARATOR, PubNubOccupant
from errbot_pubnub.room import ChannelMembership, PubNubRoom


def parse_identifier(
    text: str, membership: ChannelMembership | None = None
) -> PubNubRoom | PubNubOccupant:
    """``"<channel>"`` is a room, ``"<channel>/<user id>"`` a user in that room.

    Raises ``ValueError`` with the reason when ``text`` is neither.
    """
    if not isinstance(text, str):
        raise ValueError(f"a PubNub identifier must be a string, not {type(text).__name__}")
    text = text.strip()
    channel, separator, user_id = text.partition(OCCUPANT_SEPARATOR)
    room = PubNubRoom(channel, membership)
    if not separator:
        return room
    if not user_id:
        raise ValueError(f"{text!r} names no user after {OCCUPANT_SEPARATOR!r}")
    return PubNubOccupant(room, user_id)
