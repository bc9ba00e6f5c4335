"""Which agent room serves which customers: ``SUPPORT_AGENT_ROOM``, and ``SUPPORT_ROUTES`` for
teams that each answer some of the customers (a language, a product, the VIPs).

A conversation keeps the room it was routed to when it opened, or moved to (``!move``). It is
stored by the room's name as the settings give it, and None stands for ``SUPPORT_AGENT_ROOM``:
renaming the main room takes its conversations along, and a conversation whose team room was
taken out of the settings falls back to the main room instead of being lost.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from errbot.backends.base import Room

from errbot_support.identities import network_of, own_identity, same_room
from errbot_support.records import Conversation
from errbot_support.settings import CustomerTexts, RouteSettings, Settings, SettingsError


@dataclass(frozen=True)
class AgentRoom:
    """An agent room: ``name`` is what conversations store (None for the main room), ``texts``
    what its customers are sent automatically.

    Compared by the room's name, as rooms are elsewhere (``same_room``): not every backend's
    room objects can be compared or hashed.
    """

    name: str | None
    room: Room = field(compare=False)
    texts: CustomerTexts = field(compare=False)
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.room).casefold())

    def __str__(self) -> str:
        return str(self.room)


@dataclass(frozen=True)
class Route:
    """Customers whose chat matches ``pattern`` (a glob) are served in ``room``."""

    pattern: str
    room: AgentRoom


def _forms(text: str) -> set[str]:
    """How people may write a room or a chat: with or without its network and its '#'."""
    text = text.strip().casefold()
    forms = {text}
    if ":" in text:
        forms.add(text.split(":", 1)[1])
    return forms | {form.lstrip("#") for form in forms}


class AgentRooms:
    def __init__(
        self,
        main: Room,
        texts: CustomerTexts,
        routes: Sequence[tuple[RouteSettings, Room]] = (),
    ) -> None:
        """``routes``: each route's settings, and the room it names."""
        self.main = AgentRoom(None, main, texts)
        rooms: dict[str, AgentRoom] = {}
        self.routes: list[Route] = []
        for route, room in routes:
            key = str(room).casefold()
            known = self.main if same_room(room, main) else rooms.get(key)
            if known is None:
                known = rooms[key] = AgentRoom(route.room, room, route.texts or texts)
            elif route.texts is not None and route.texts != known.texts:
                where = f"SUPPORT_ROUTES[{route.pattern!r}] gives {known}"
                raise SettingsError(
                    f"{where}, the SUPPORT_AGENT_ROOM, texts of its own: set them as "
                    "SUPPORT_ACKNOWLEDGEMENT and the like instead"
                    if known.name is None
                    else f"{where} other texts than an earlier route: the texts belong to the "
                    "agent room, give them with its first route"
                )
            self.routes.append(Route(route.pattern, known))
        self._by_name = {room.name.casefold(): room for room in rooms.values() if room.name}
        self.all: list[AgentRoom] = [self.main, *rooms.values()]
        #: Whether any room asks its customers for ratings (their bare "1" to "5" may rate).
        self.ask_ratings = any(room.texts.rating_question for room in self.all)

    @property
    def several(self) -> bool:
        return len(self.all) > 1

    def route(self, customer_room: str) -> AgentRoom:
        """The room serving a new conversation in ``customer_room``: the first route whose
        pattern matches the chat, with or without its network, any case; else the main room."""
        if not self.routes:
            return self.main
        names = _forms(customer_room)
        for route in self.routes:
            pattern = route.pattern.casefold()
            if any(fnmatch.fnmatchcase(name, pattern) for name in names):
                return route.room
        return self.main

    def of(self, conversation: Conversation) -> AgentRoom:
        """The room of ``conversation``; the main room if its room is no longer configured."""
        return self.named(conversation.agent_room)

    def named(self, name: str | None) -> AgentRoom:
        """The room a conversation stores as ``name`` (also when the settings now spell it
        otherwise); the main room if it is no longer configured."""
        if name is None:
            return self.main
        return self._by_name.get(name.casefold()) or self.find(name) or self.main

    def holding(self, room: object) -> AgentRoom | None:
        """The agent room ``room`` (an identifier) is, if it is one."""
        return next((r for r in self.all if same_room(r.room, room)), None)

    def find(self, text: str) -> AgentRoom | None:
        """The agent room an agent named: by its name in the settings or on its network, with or
        without the network and the '#' ("agents:#vip", "#vip", "vip")."""
        wanted = _forms(text)
        for agent_room in self.all:
            if wanted & self._names_of(agent_room):
                return agent_room
        return None

    def names(self) -> Iterable[str]:
        return [str(r) for r in self.all]

    @staticmethod
    def _names_of(agent_room: AgentRoom) -> set[str]:
        names = _forms(str(agent_room.room)) | _forms(str(own_identity(agent_room.room)))
        if agent_room.name:
            names |= _forms(agent_room.name)
        return names


def agent_rooms(
    settings: Settings, query_room: Callable[[str], Room], bridge_networks: set[str] | None
) -> AgentRooms:
    """The agent rooms the settings name, each one checked: reachable, and on the agents'
    network when the bot runs the Bridge (``bridge_networks``: its networks, if it does)."""

    def checked(setting: str, name: str) -> Room:
        return _checked_room(settings, setting, name, query_room, bridge_networks)

    main = checked("SUPPORT_AGENT_ROOM", settings.agent_room)
    routes = [
        (route, checked(f"SUPPORT_ROUTES[{route.pattern!r}]", route.room))
        for route in settings.routes
    ]
    return AgentRooms(main, settings.texts, routes)


def _checked_room(
    settings: Settings,
    setting: str,
    name: str,
    query_room: Callable[[str], Room],
    bridge_networks: set[str] | None,
) -> Room:
    try:
        room = query_room(name)
    except Exception as exc:
        raise SettingsError(
            f"{setting} {name!r} is not a room this bot can reach ({exc})"
        ) from None
    bridged = network_of(room)
    if settings.customer_network is None:
        if bridged is not None:
            raise SettingsError(
                "SUPPORT_CUSTOMER_NETWORK is not set but the bot runs the Bridge: set it to "
                "the network of the customers, e.g. SUPPORT_CUSTOMER_NETWORK = 'customers'"
            )
        return room
    if bridged is None:
        raise SettingsError(
            f"SUPPORT_CUSTOMER_NETWORK is {settings.customer_network!r} but the bot does not "
            "run the Bridge backend: set it to None to treat every room other than the "
            "agent room as a customer chat"
        )
    if bridged == settings.customer_network:
        raise SettingsError(
            f"{setting} {name!r} is on the customer network "
            f"{settings.customer_network!r}: put the agent room on the agents' network"
        )
    if bridge_networks is not None and settings.customer_network not in bridge_networks:
        raise SettingsError(
            f"SUPPORT_CUSTOMER_NETWORK {settings.customer_network!r} is not a network of the "
            f"Bridge (it has {', '.join(sorted(bridge_networks))})"
        )
    return room
