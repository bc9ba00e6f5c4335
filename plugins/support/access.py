"""Who is who for the Support plugin: which chat is a customer's, which room an agent room,
who counts as an agent; and the access policy built on it (customers run no command, support
commands are for agents only)."""

from __future__ import annotations

from errbot.backends.base import Identifier, Message, RoomOccupant
from errbot.botplugin import CommandError

from errbot_support.identities import agent_of, matches_any, network_of
from errbot_support.records import Agent
from errbot_support.routing import AgentRoom, AgentRooms
from errbot_support.settings import Settings

SELF_WORDS = ("me", "myself")
#: Why a command is refused: who ran it.
CUSTOMER = "customer"
NON_AGENT = "non-agent"


class Access:
    def __init__(self, settings: Settings, rooms: AgentRooms) -> None:
        self._settings = settings
        self._rooms = rooms

    def customer_room(self, msg: Message) -> Identifier | None:
        """The customer chat ``msg`` was written in, or None if it is not from a customer."""
        network = self._settings.customer_network
        if network is not None:
            if network_of(msg) != network:
                return None
        elif not msg.is_group or self._rooms.holding(msg.to) is not None:
            return None
        if isinstance(msg.frm, RoomOccupant):
            return msg.frm.room
        return msg.to if msg.is_group else msg.frm

    def agent_room_of(self, msg: Message) -> AgentRoom | None:
        """The agent room ``msg`` was written in, if any."""
        if not msg.is_group:
            return None
        return self._rooms.holding(msg.to)

    def in_agent_room(self, msg: Message) -> bool:
        return self.agent_room_of(msg) is not None

    def is_agent(self, msg: Message) -> bool:
        """Listed in ``SUPPORT_AGENTS``; without that list, in an agent room."""
        patterns = self._settings.agents
        if patterns:
            return matches_any(msg.frm, patterns)
        return self.in_agent_room(msg) or self._is_occupant_of_agent_room(msg.frm)

    @staticmethod
    def agent(msg: Message) -> Agent:
        return agent_of(msg.frm)

    def named_agent(self, name: str, requester: Agent) -> Agent:
        """The agent ``name`` stands for ("me" is ``requester``); refused unless listed."""
        wanted = name.lstrip("@")
        if wanted.casefold() in SELF_WORDS:
            return requester
        patterns = self._settings.agents
        if patterns and not matches_any(wanted, patterns):
            raise CommandError(f"{wanted} is not one of the agents listed in SUPPORT_AGENTS.")
        return Agent(key=wanted.casefold(), name=wanted)

    def refusal(self, msg: Message, owned_by_support: bool) -> str | None:
        """Why ``msg``'s command is refused, for the log; None if it may run.

        Customers run no command at all; support commands are for agents only.
        """
        if self.customer_room(msg) is not None:
            return CUSTOMER
        if owned_by_support and not self.is_agent(msg):
            return NON_AGENT
        return None

    def _is_occupant_of_agent_room(self, person: Identifier) -> bool:
        """Best effort: not every backend can list a room's occupants."""
        wanted = getattr(person, "person", None)
        if wanted is None:
            return False
        for agent_room in self._rooms.all:
            try:
                occupants = agent_room.room.occupants
            except Exception:
                continue
            if any(getattr(o, "person", None) == wanted for o in occupants):
                return True
        return False
