"""Read and check the backend's settings from the bot's ``config.py``.

Every problem is reported as one sentence naming the setting, because a traceback from deep
inside Errbot's bootstrap tells an operator nothing about which line of ``config.py`` to fix.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from errbot_instances.rendezvous import GROUPS_PER_SUBSCRIBER
from errbot_pubnub.converters import MessageConverter

log = logging.getLogger(__name__)

DEFAULT_CONVERTER = "errbot_pubnub.DefaultMessageConverter"
DEFAULT_CHANNEL_GROUP = "support"
DEFAULT_USER_ID = "support"
#: PubNub's limit of channel groups per subscribing client: what a bot alone may name.
MAX_CHANNEL_GROUPS = GROUPS_PER_SUBSCRIBER
#: With PUBNUB_SHARE_GROUPS each instance takes in at most MAX_CHANNEL_GROUPS, so the groups
#: may be more; every instance's sync weighs every group against every instance, one sync at a
#: time each heartbeat, so they stay at most 200 (20 instances: 400,000 channels of 2,000).
MAX_SHARED_CHANNEL_GROUPS = 200
DEFAULT_GROUP_CAPACITY = 2000  # channels per group on PubNub's paid plans (100 on some others)

# Characters PubNub forbids in channel and channel-group names ("/" also separates the
# channel from the user in an occupant's identifier).
_FORBIDDEN_NAME_CHARS = re.compile(r"[,/\\*:\s\x00-\x1f\x7f]")


class PubNubConfigurationError(SystemExit):
    """A setting is missing or wrong.

    It is a ``SystemExit`` so that a standalone bot stops with the sentence alone (Errbot's
    bootstrap turns any other exception into a traceback); a host that loads this backend
    among others can still catch it by this class.
    """

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence


def invalid_name_reason(name: Any) -> str | None:
    """Why ``name`` cannot be a PubNub channel or group name; ``None`` when it can."""
    if not isinstance(name, str) or not name:
        return "it must be a non-empty string"
    bad = _FORBIDDEN_NAME_CHARS.search(name)
    if bad:
        return f"it contains the forbidden character {bad.group()!r}"
    return None


@dataclass(frozen=True)
class PubNubSettings:
    """Everything the backend needs to connect, checked once at start-up."""

    publish_key: str
    subscribe_key: str
    user_id: str
    secret_key: str | None
    token: str | None
    channel_groups: tuple[str, ...]
    converter: MessageConverter
    origin: str | None
    ssl: bool
    channel_workers: int
    user_names: bool  # customers' names read from App Context
    dead_letter_limit: int
    warning_interval: float
    delivery_db_url: str | None = None
    first_start_catch_up: float = 0.0
    dedup_window: int = 10_000
    publish_attempts: int = 4
    publish_retry_seconds: float = 15.0
    publish_id_meta: str | None = None
    access_retry_interval: float = 60.0
    reconnect_max_delay: float = 30.0
    group_capacity: int = DEFAULT_GROUP_CAPACITY
    share_groups: bool = False  # the instances on one PostgreSQL database share the groups

    @property
    def access(self) -> str:
        """How requests are authorised, in words for logs and ``!pubnub status``."""
        if self.secret_key:
            return "secret key"
        if self.token:
            return "Access Manager token"
        return "none (open keyset)"


def load_converter(path: Any, setting: str = "PUBNUB_MESSAGE_CONVERTER") -> MessageConverter:
    """Import ``package.module.Class`` (or ``package.module:Class``) and instantiate it."""
    if not isinstance(path, str) or not path.strip():
        raise PubNubConfigurationError(
            f"{setting} must be the dotted path of a MessageConverter class, not {path!r}."
        )
    module_name, sep, attribute = path.strip().replace(":", ".").rpartition(".")
    if not sep or not module_name:
        raise PubNubConfigurationError(
            f"{setting} {path!r} is not a dotted path like 'mypackage.converters.MyConverter'."
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PubNubConfigurationError(
            f"{setting} {path!r} cannot be imported: {type(exc).__name__}: {exc}."
        ) from None
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise PubNubConfigurationError(
            f"{setting} {path!r} cannot be imported: module {module_name!r} has no {attribute!r}."
        ) from None
    if isinstance(target, MessageConverter):
        return target
    if not (isinstance(target, type) and issubclass(target, MessageConverter)):
        raise PubNubConfigurationError(
            f"{setting} {path!r} is not a subclass of errbot_pubnub.MessageConverter."
        )
    try:
        return target()
    except Exception as exc:
        raise PubNubConfigurationError(
            f"{setting} {path!r} could not be created: {type(exc).__name__}: {exc}."
        ) from None


def _identity(config: Any) -> Mapping[str, Any]:
    identity = getattr(config, "BOT_IDENTITY", None)
    if not isinstance(identity, Mapping):
        raise PubNubConfigurationError(
            "BOT_IDENTITY must be a dict with at least 'publish_key' and 'subscribe_key'."
        )
    return identity


def _required_key(identity: Mapping[str, Any], key: str, env: str) -> str:
    value = identity.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PubNubConfigurationError(
            f"BOT_IDENTITY['{key}'] is missing: set it (or the environment variable {env} "
            "that config_template.py reads)."
        )
    return value.strip()


def _optional_str(identity: Mapping[str, Any], key: str) -> str | None:
    value = identity.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PubNubConfigurationError(
            f"BOT_IDENTITY['{key}'] must be a string, not {type(value).__name__}."
        )
    return value.strip() or None


def channel_group_limit(share_groups: bool) -> int:
    """How many channel groups the bot may follow: what one subscriber holds for a bot alone,
    more when the instances share them out (each still taking in at most 10)."""
    return MAX_SHARED_CHANNEL_GROUPS if share_groups else MAX_CHANNEL_GROUPS


def _channel_groups(value: Any, share_groups: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        groups = tuple(g.strip() for g in value.split(",") if g.strip())
    elif isinstance(value, list | tuple):
        groups = tuple(value)
    else:
        raise PubNubConfigurationError(
            "PUBNUB_CHANNEL_GROUP must be a channel group name or a list of names, "
            f"not {type(value).__name__}."
        )
    if not groups:
        raise PubNubConfigurationError("PUBNUB_CHANNEL_GROUP names no channel group.")
    if share_groups and len(groups) > MAX_SHARED_CHANNEL_GROUPS:
        raise PubNubConfigurationError(
            f"PUBNUB_CHANNEL_GROUP names {len(groups)} groups but the instances share out at "
            f"most {MAX_SHARED_CHANNEL_GROUPS}."
        )
    if not share_groups and len(groups) > MAX_CHANNEL_GROUPS:
        raise PubNubConfigurationError(
            f"PUBNUB_CHANNEL_GROUP names {len(groups)} groups but PubNub lets one client "
            f"subscribe to at most {MAX_CHANNEL_GROUPS} (with PUBNUB_SHARE_GROUPS several "
            "instances of the bot share more out, at most 10 each)."
        )
    for group in groups:
        reason = invalid_name_reason(group)
        if reason:
            raise PubNubConfigurationError(
                f"PUBNUB_CHANNEL_GROUP entry {group!r} is not a valid group name: {reason}."
            )
    if len(set(groups)) != len(groups):
        raise PubNubConfigurationError("PUBNUB_CHANNEL_GROUP names the same group twice.")
    return groups


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def parse_origin(
    value: Any, ssl: bool | None, setting: str = "PUBNUB_ORIGIN"
) -> tuple[str | None, bool]:
    """``(host[:port] or None, use TLS)`` from an origin and an explicit TLS choice (or None).

    A pasted URL's scheme decides TLS; otherwise TLS is on, except for a loopback origin (the
    local PubNub server speaks plain HTTP, and PubNub itself is never on loopback).
    """
    if value is None or value == "":
        return None, True if ssl is None else ssl
    if not isinstance(value, str):
        raise PubNubConfigurationError(
            f"{setting} must be a host name such as 'ps.pndsn.com' or '127.0.0.1:8090', "
            f"not {value!r}."
        )
    origin = value.strip().rstrip("/")
    scheme_tls = None
    for scheme, tls in (("http://", False), ("https://", True)):
        if origin.startswith(scheme):
            origin, scheme_tls = origin.removeprefix(scheme), tls
    if not origin or "/" in origin or " " in origin:
        raise PubNubConfigurationError(
            f"{setting} must be a host name such as 'ps.pndsn.com' or '127.0.0.1:8090', "
            f"not {value!r}."
        )
    if ssl is not None:
        return origin, ssl
    if scheme_tls is not None:
        return origin, scheme_tls
    host = origin.rsplit(":", 1)[0] if origin.count(":") == 1 else origin
    return origin, host not in _LOOPBACK_HOSTS


def _number(config: Any, name: str, default: float, minimum: float, kind: type) -> Any:
    value = getattr(config, name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise PubNubConfigurationError(
            f"{name} must be a number of at least {minimum}, not {value!r}."
        )
    return kind(value)


def _switch(config: Any, name: str, default: bool) -> bool:
    value = getattr(config, name, None)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise PubNubConfigurationError(f"{name} must be True or False, not {value!r}.")
    return value


def _database_url(value: Any) -> str | None:
    """An SQLAlchemy URL, or a file path taken as an SQLite file; ``None`` for the default."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PubNubConfigurationError(
            "PUBNUB_DELIVERY_DB_URL must be an SQLAlchemy URL such as "
            f"'sqlite:////var/lib/errbot/pubnub.sqlite' or a file path, not {value!r}."
        )
    return value if "://" in value else f"sqlite:///{value}"


def _optional_name(config: Any, name: str) -> str | None:
    value = getattr(config, name, None)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise PubNubConfigurationError(f"{name} must be a meta key name or None, not {value!r}.")
    return value.strip()


def read_settings(config: Any) -> PubNubSettings:
    """The checked settings of ``config``; raises :class:`PubNubConfigurationError`."""
    identity = _identity(config)
    publish_key = _required_key(identity, "publish_key", "PUBNUB_PUBLISH_KEY")
    subscribe_key = _required_key(identity, "subscribe_key", "PUBNUB_SUBSCRIBE_KEY")
    user_id = _optional_str(identity, "user_id") or DEFAULT_USER_ID
    ssl_setting = getattr(config, "PUBNUB_SSL", None)
    if ssl_setting is not None and not isinstance(ssl_setting, bool):
        raise PubNubConfigurationError(
            f"PUBNUB_SSL must be True, False or None (automatic), not {ssl_setting!r}."
        )
    origin, ssl = parse_origin(getattr(config, "PUBNUB_ORIGIN", None), ssl_setting)
    share_groups = _shared_groups(config)
    return PubNubSettings(
        publish_key=publish_key,
        subscribe_key=subscribe_key,
        user_id=user_id,
        secret_key=_optional_str(identity, "secret_key"),
        token=_optional_str(identity, "token"),
        channel_groups=_channel_groups(
            getattr(config, "PUBNUB_CHANNEL_GROUP", DEFAULT_CHANNEL_GROUP), share_groups
        ),
        converter=load_converter(getattr(config, "PUBNUB_MESSAGE_CONVERTER", DEFAULT_CONVERTER)),
        origin=origin,
        ssl=ssl,
        channel_workers=_number(config, "PUBNUB_CHANNEL_WORKERS", 4, 1, int),
        user_names=_switch(config, "PUBNUB_USER_NAMES", True),
        dead_letter_limit=_number(config, "PUBNUB_DEAD_LETTER_LIMIT", 200, 1, int),
        warning_interval=_number(config, "PUBNUB_WARNING_INTERVAL", 300, 0, float),
        delivery_db_url=_database_url(getattr(config, "PUBNUB_DELIVERY_DB_URL", None)),
        first_start_catch_up=_number(config, "PUBNUB_FIRST_START_CATCH_UP", 0, 0, float),
        dedup_window=_number(config, "PUBNUB_DEDUP_WINDOW", 10_000, 100, int),
        publish_attempts=_number(config, "PUBNUB_PUBLISH_ATTEMPTS", 4, 1, int),
        publish_retry_seconds=_number(config, "PUBNUB_PUBLISH_RETRY_SECONDS", 15, 0, float),
        publish_id_meta=_optional_name(config, "PUBNUB_PUBLISH_ID_META"),
        access_retry_interval=_number(config, "PUBNUB_ACCESS_RETRY_INTERVAL", 60, 0.1, float),
        reconnect_max_delay=_number(config, "PUBNUB_RECONNECT_MAX_DELAY", 30, 0.1, float),
        group_capacity=_number(config, "PUBNUB_GROUP_CAPACITY", DEFAULT_GROUP_CAPACITY, 1, int),
        share_groups=share_groups,
    )


def _shared_groups(config: Any) -> bool:
    """PUBNUB_SHARE_GROUPS, which needs the instances' common PostgreSQL database."""
    share = _switch(config, "PUBNUB_SHARE_GROUPS", False)
    url = _database_url(getattr(config, "PUBNUB_DELIVERY_DB_URL", None))
    if share and (url is None or url.split("://")[0].split("+")[0] != "postgresql"):
        raise PubNubConfigurationError(
            "PUBNUB_SHARE_GROUPS = True needs PUBNUB_DELIVERY_DB_URL to be the PostgreSQL URL "
            "every instance of the bot uses."
        )
    return share
