"""Read and check the Bridge's settings, and give each network its private configuration.

Every problem is reported as one sentence naming the setting: a traceback from inside Errbot's
bootstrap would not tell an operator which line of ``config.py`` to fix.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from errbot_bridge.errors import BridgeConfigurationError

NETWORK_SEPARATOR = ":"
ANY_NETWORK = "*"

DEFAULT_START_TIMEOUT = 120.0
DEFAULT_RECONNECT_DELAY = 1.0
DEFAULT_RECONNECT_MAX_DELAY = 60.0
DEFAULT_STOP_TIMEOUT = 5.0

# Settings that belong to the bridged bot as a whole; a network sees its own share of them.
_BRIDGE_ONLY = ("BRIDGE_BACKENDS", "BRIDGE_COMMANDS", "BRIDGE_ROOMS_ADMIN_ONLY")
_ACL_IDENTITY_KEYS = ("allowusers", "denyusers", "allowrooms", "denyrooms")


@dataclass(frozen=True)
class NetworkSettings:
    """One entry of ``BRIDGE_BACKENDS``, with the configuration its backend will see."""

    name: str
    backend_name: str
    config: SimpleNamespace
    commands: bool
    rooms_admin_only: bool  # only what a bot admin sets off acts on (or lists) its rooms
    reconnect_delay: float
    reconnect_max_delay: float


@dataclass(frozen=True)
class BridgeSettings:
    networks: tuple[NetworkSettings, ...]
    start_timeout: float | None
    stop_timeout: float

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.networks)


def split_network(text: str, names: Iterable[str]) -> tuple[str | None, str]:
    """``"agents:#support"`` -> ``("agents", "#support")``; no known prefix -> ``(None, text)``.

    Only a prefix naming a configured network counts, so an identifier that happens to contain a
    colon (an IPv6 host in an IRC mask, a URL) is not mistaken for a network name.
    """
    head, sep, rest = text.partition(NETWORK_SEPARATOR)
    if sep and head in names:
        return head, rest
    return None, text


def read_settings(config: Any) -> BridgeSettings:
    """Check the whole Bridge configuration and build each network's private configuration."""
    backends = getattr(config, "BRIDGE_BACKENDS", None)
    if backends is None:
        raise BridgeConfigurationError(
            'BRIDGE_BACKENDS is missing: with BACKEND = "Bridge", set it to a mapping such as '
            '{"agents": {"BACKEND": "IRC", ...}, "customers": {"BACKEND": "PubNub", ...}}.'
        )
    if not isinstance(backends, Mapping) or not backends:
        raise BridgeConfigurationError(
            "BRIDGE_BACKENDS must be a non-empty mapping of network names to backend settings, "
            f"not {backends!r}."
        )
    names = tuple(backends)
    for name in names:
        _check_network_name(name)
    start_timeout = _positive_number(config, "BRIDGE_START_TIMEOUT", DEFAULT_START_TIMEOUT, True)
    stop_timeout = _positive_number(config, "BRIDGE_STOP_TIMEOUT", DEFAULT_STOP_TIMEOUT)
    admins = _prefixed_patterns(config, "BOT_ADMINS", names)
    notified = _prefixed_patterns(config, "BOT_ADMINS_NOTIFICATIONS", names)
    _check_access_controls(config, names)
    rooms = _rooms_by_network(getattr(config, "CHATROOM_PRESENCE", ()), names)
    shares = {
        name: {
            "BOT_ADMINS": admins[name],
            "BOT_ADMINS_NOTIFICATIONS": notified[name],
            "CHATROOM_PRESENCE": rooms[name],
        }
        for name in names
    }
    networks = tuple(
        _network_settings(config, name, backends[name], shares[name]) for name in names
    )
    return BridgeSettings(networks, start_timeout, stop_timeout)


def _check_network_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise BridgeConfigurationError(
            f"BRIDGE_BACKENDS: the network name {name!r} must be a non-empty string."
        )
    if NETWORK_SEPARATOR in name or any(c.isspace() for c in name):
        raise BridgeConfigurationError(
            f'BRIDGE_BACKENDS: the network name "{name}" cannot contain ":" or spaces, because '
            '"<network>:" prefixes every identifier of that network.'
        )
    if any(c in name for c in "*?[]"):
        raise BridgeConfigurationError(
            f'BRIDGE_BACKENDS: the network name "{name}" cannot contain the glob characters '
            "* ? [ ], because ACL and BOT_ADMINS patterns start with it."
        )


def _network_settings(config: Any, name: str, entry: Any, share: dict[str, Any]) -> NetworkSettings:
    """``share``: this network's part of the bot-wide admins and rooms, without the prefix."""
    where = f'BRIDGE_BACKENDS["{name}"]'
    if not isinstance(entry, Mapping):
        raise BridgeConfigurationError(
            f'{where} must be a mapping of settings such as {{"BACKEND": "IRC", ...}}, '
            f"not {entry!r}."
        )
    backend_name = entry.get("BACKEND")
    if backend_name is None:
        raise BridgeConfigurationError(
            f'{where} has no "BACKEND" key: name the Errbot backend to run there, e.g. "IRC".'
        )
    if not isinstance(backend_name, str) or not backend_name:
        raise BridgeConfigurationError(
            f'{where}["BACKEND"] must be the name of an Errbot backend, not {backend_name!r}.'
        )
    if backend_name == "Bridge":
        raise BridgeConfigurationError(f'{where}["BACKEND"] cannot be "Bridge" itself.')
    commands = entry.get("BRIDGE_COMMANDS", True)
    if not isinstance(commands, bool):
        raise BridgeConfigurationError(
            f'{where}["BRIDGE_COMMANDS"] must be True or False, not {commands!r}.'
        )
    rooms_admin_only = entry.get("BRIDGE_ROOMS_ADMIN_ONLY", not commands)
    if not isinstance(rooms_admin_only, bool):
        raise BridgeConfigurationError(
            f'{where}["BRIDGE_ROOMS_ADMIN_ONLY"] must be True or False, not {rooms_admin_only!r}.'
        )
    private = private_copy(config)
    private.BACKEND = backend_name
    for key, value in share.items():
        setattr(private, key, value)
    # Inner backends never run commands (the Bridge does), so they need no thread pool.
    private.BOT_ASYNC = False
    for key, value in entry.items():
        if key not in ("BACKEND", *_BRIDGE_ONLY):
            setattr(private, key, _copied(value))
    delay = _positive_number(private, "BRIDGE_RECONNECT_DELAY", DEFAULT_RECONNECT_DELAY)
    max_delay = _positive_number(
        private, "BRIDGE_RECONNECT_MAX_DELAY", max(delay, DEFAULT_RECONNECT_MAX_DELAY)
    )
    if max_delay < delay:
        raise BridgeConfigurationError(
            f"{where}: BRIDGE_RECONNECT_MAX_DELAY ({max_delay}) cannot be shorter than "
            f"BRIDGE_RECONNECT_DELAY ({delay})."
        )
    return NetworkSettings(
        name=name,
        backend_name=backend_name,
        config=private,
        commands=commands,
        rooms_admin_only=rooms_admin_only,
        reconnect_delay=delay,
        reconnect_max_delay=max_delay,
    )


def private_copy(config: Any) -> SimpleNamespace:
    """A configuration object no other network shares: backends write into theirs."""
    values = {
        key: _copied(value)
        for key, value in vars(config).items()
        if not key.startswith("_") and key not in _BRIDGE_ONLY and not _is_module(value)
    }
    return SimpleNamespace(**values)


def _copied(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # locks, sockets, modules...: share what cannot be copied
        return value


def _is_module(value: Any) -> bool:
    return type(value).__name__ == "module"


def _positive_number(config: Any, key: str, default: float, allow_none: bool = False) -> Any:
    value = getattr(config, key, default)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        hint = " (or None to wait forever)" if allow_none else ""
        raise BridgeConfigurationError(
            f"{key} must be a positive number of seconds{hint}, not {value!r}."
        )
    return float(value)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _prefixed_patterns(config: Any, key: str, names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Split ``BOT_ADMINS``-like patterns by network; each must name its network explicitly.

    An unprefixed admin pattern could otherwise match a namesake on another network.
    """
    by_network: dict[str, list[str]] = {name: [] for name in names}
    for pattern in _as_tuple(getattr(config, key, ())):
        network, rest = split_network(str(pattern), names)
        if network is None:
            raise BridgeConfigurationError(
                f'{key} entry "{pattern}" names no network: write it as "<network>:{pattern}" '
                f"with one of {', '.join(names)}, so it cannot match a user of another network."
            )
        by_network[network].append(rest)
    return {name: tuple(patterns) for name, patterns in by_network.items()}


def _check_access_controls(config: Any, names: tuple[str, ...]) -> None:
    """User and room patterns must start with ``<network>:`` (or ``*:``, meaning any network).

    Every bridged ``aclattr`` starts with its network, so an unprefixed ``denyusers`` pattern
    would silently deny nobody.
    """
    sources = {"ACCESS_CONTROLS_DEFAULT": getattr(config, "ACCESS_CONTROLS_DEFAULT", {}) or {}}
    for command, acl in (getattr(config, "ACCESS_CONTROLS", {}) or {}).items():
        sources[f'ACCESS_CONTROLS["{command}"]'] = acl
    for where, acl in sources.items():
        if not isinstance(acl, Mapping):
            continue
        for key in _ACL_IDENTITY_KEYS:
            for pattern in _as_tuple(acl.get(key)):
                if not _names_a_network(str(pattern), names):
                    raise BridgeConfigurationError(
                        f'{where}["{key}"] pattern "{pattern}" names no network: write it as '
                        f'"<network>:{pattern}" with one of {", ".join(names)}, or "*:{pattern}" '
                        "for every network."
                    )


def _names_a_network(pattern: str, names: tuple[str, ...]) -> bool:
    if pattern == ANY_NETWORK:
        return True
    head, sep, _ = pattern.partition(NETWORK_SEPARATOR)
    return bool(sep) and (head in names or head == ANY_NETWORK)


def _rooms_by_network(presence: Any, names: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
    """Distribute ``CHATROOM_PRESENCE``: ``"agents:#support"`` goes to agents, bare names first."""
    rooms: dict[str, list[Any]] = {name: [] for name in names}
    for entry in _as_tuple(presence):
        if isinstance(entry, list | tuple):
            room, password = entry
            network, rest = split_network(str(room), names)
            rooms[network or names[0]].append((rest, password))
        else:
            network, rest = split_network(str(entry), names)
            rooms[network or names[0]].append(rest)
    return {name: tuple(entries) for name, entries in rooms.items()}
