"""Read and check the Support plugin's settings from the bot's ``config.py``.

Each problem is one sentence naming the setting: Errbot reports a failed activation to the
bot admins with the exception's text, and that sentence is all an operator should need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from errbot_support import business_hours, canned
from errbot_support.business_hours import BusinessHours
from errbot_support.database import default_url

DEFAULT_ACKNOWLEDGEMENT = (
    "Thanks for your message! Someone from our team will answer you here shortly."
)
DEFAULT_RESOLVED_NOTICE = (
    "We have marked this conversation as resolved. Write again any time if you need more help."
)
DEFAULT_CLAIMED_NOTICE = None  # e.g. "{agent} is looking after your request."
DEFAULT_POSTPONED_NOTICE = None  # e.g. "Your request is waiting for the next agent."
DEFAULT_RATING_QUESTION = None  # e.g. "How did we do? Reply with a number from 1 to 5."
DEFAULT_RATING_THANKS = "Thank you for your feedback!"
DEFAULT_AFTER_HOURS_NOTICE = (
    "Thanks for your message! Our team is away right now; we will answer here as soon as we "
    "are back."
)
DEFAULT_PAGE_SIZE = 15
DEFAULT_RETRY_INTERVAL = 10.0
DEFAULT_STATS_DAYS = 7
DEFAULT_FLOOD_PER_MINUTE = 30


class SettingsError(Exception):
    """One setting is wrong; ``str()`` is the sentence to show."""


@dataclass(frozen=True)
class CustomerTexts:
    """What customers are sent automatically; None sends nothing. An agent room may have
    texts of its own (a team answering in another language): see ``SUPPORT_ROUTES``."""

    acknowledgement: str | None
    after_hours_notice: str | None  # sent instead of the acknowledgement outside hours
    claimed_notice: str | None
    postponed_notice: str | None
    resolved_notice: str | None
    rating_question: str | None  # asked after the resolved notice; None: no ratings
    rating_thanks: str | None


#: Each text's setting, and its default.
TEXT_SETTINGS: dict[str, tuple[str, str | None]] = {
    "acknowledgement": ("SUPPORT_ACKNOWLEDGEMENT", DEFAULT_ACKNOWLEDGEMENT),
    "after_hours_notice": ("SUPPORT_AFTER_HOURS_NOTICE", DEFAULT_AFTER_HOURS_NOTICE),
    "claimed_notice": ("SUPPORT_CLAIMED_NOTICE", DEFAULT_CLAIMED_NOTICE),
    "postponed_notice": ("SUPPORT_POSTPONED_NOTICE", DEFAULT_POSTPONED_NOTICE),
    "resolved_notice": ("SUPPORT_RESOLVED_NOTICE", DEFAULT_RESOLVED_NOTICE),
    "rating_question": ("SUPPORT_RATING_QUESTION", DEFAULT_RATING_QUESTION),
    "rating_thanks": ("SUPPORT_RATING_THANKS", DEFAULT_RATING_THANKS),
}


@dataclass(frozen=True)
class RouteSettings:
    """Customers whose chat matches ``pattern`` are served in ``room``; ``texts`` are the
    room's own, if the route gives any."""

    pattern: str
    room: str
    texts: CustomerTexts | None


@dataclass(frozen=True)
class Settings:
    agent_room: str
    routes: tuple[RouteSettings, ...]  # first match wins
    customer_network: str | None
    db_url: str
    agents: tuple[str, ...]
    texts: CustomerTexts  # those of SUPPORT_AGENT_ROOM, and of routes that give none
    canned_replies: dict[str, str]  # name -> text, for replies written ":name"
    business_hours: BusinessHours | None  # None: always open
    threads: bool
    reminder_after: timedelta | None  # a customer waiting that long is pointed out; None: never
    auto_resolve_after: timedelta | None  # silence after an agent's reply that resolves
    page_size: int
    retry_interval: float
    stats_days: int
    flood_per_minute: int = DEFAULT_FLOOD_PER_MINUTE  # messages of one customer: a flood beyond


#: What the plugin's commands answer on a bot that does not run support.
NOT_CONFIGURED = (
    "Support is not configured on this bot: set SUPPORT_AGENT_ROOM to the room where agents work."
)


def in_use(config: Any) -> bool:
    """Whether this bot runs support at all.

    Installing the package makes Errbot load the plugin on every bot, a PubNub-only bot too:
    with no ``SUPPORT_*`` setting at all, support is simply not used there, which is no
    mistake to warn admins about. Any ``SUPPORT_*`` setting without ``SUPPORT_AGENT_ROOM`` is
    a configuration left half done, which :func:`read_settings` reports.
    """
    return any(
        name.startswith("SUPPORT_") and getattr(config, name, None) is not None
        for name in dir(config)
    )


def read_settings(config: Any) -> Settings:
    """Settings from ``config`` (the bot's configuration module)."""
    agent_room = getattr(config, "SUPPORT_AGENT_ROOM", None)
    if not isinstance(agent_room, str) or not agent_room.strip():
        raise SettingsError(
            "SUPPORT_AGENT_ROOM is not set: name the room where agents work, "
            "e.g. SUPPORT_AGENT_ROOM = '#support' (or 'agents:#support' with the Bridge), "
            "or remove every SUPPORT_ setting to run this bot without support"
        )
    network = getattr(config, "SUPPORT_CUSTOMER_NETWORK", None)
    if network is not None and (not isinstance(network, str) or not network.strip()):
        raise SettingsError(
            "SUPPORT_CUSTOMER_NETWORK must be the name of the Bridge network of the customers "
            "(e.g. 'customers'), or None on a single backend"
        )
    texts = _texts(lambda _field, name, default: getattr(config, name, default))
    return Settings(
        agent_room=agent_room.strip(),
        routes=_routes(config, texts),
        customer_network=network.strip() if network else None,
        db_url=_db_url(config),
        agents=_agents(config),
        texts=texts,
        canned_replies=_canned_replies(config),
        business_hours=_business_hours(config),
        threads=_flag(config, "SUPPORT_THREADS", False),
        reminder_after=_duration(
            config, "SUPPORT_REMINDER_MINUTES", "minutes", 10, "send no reminders"
        ),
        auto_resolve_after=_duration(
            config,
            "SUPPORT_AUTO_RESOLVE_HOURS",
            "hours",
            48,
            "resolve conversations only by hand",
        ),
        page_size=_number(config, "SUPPORT_PAGE_SIZE", DEFAULT_PAGE_SIZE, int, 1),
        retry_interval=_number(
            config, "SUPPORT_RETRY_INTERVAL", DEFAULT_RETRY_INTERVAL, float, 0.1
        ),
        stats_days=_number(config, "SUPPORT_STATS_DAYS", DEFAULT_STATS_DAYS, int, 1),
        flood_per_minute=_number(
            config, "SUPPORT_FLOOD_MESSAGES_PER_MINUTE", DEFAULT_FLOOD_PER_MINUTE, int, 1
        ),
    )


def _db_url(config: Any) -> str:
    url = getattr(config, "SUPPORT_DB_URL", None)
    if url is None:
        return default_url(config.BOT_DATA_DIR)
    try:
        make_url(url)
    except (ArgumentError, TypeError, ValueError):
        raise SettingsError(
            f"SUPPORT_DB_URL {url!r} is not a database URL: use e.g. "
            "'sqlite:////var/lib/errbot/support.sqlite' or "
            "'postgresql+psycopg://user:password@host/dbname', or None for the default"
        ) from None
    return url


def _texts(value_of: Callable[[str, str, Any], Any], where: str = "") -> CustomerTexts:
    """The texts, each read with ``value_of(field, setting name, default)``."""
    texts = {
        field: _text_value(f"{where}{name}", value_of(field, name, default))
        for field, (name, default) in TEXT_SETTINGS.items()
    }
    claimed = texts["claimed_notice"]
    if claimed is not None:
        try:
            claimed.format(agent="Alice")
        except (KeyError, IndexError, ValueError):
            raise SettingsError(
                f"{where}SUPPORT_CLAIMED_NOTICE may only use the placeholder {{agent}}, "
                "e.g. '{agent} is looking after your request.'"
            ) from None
    return CustomerTexts(**texts)


def _routes(config: Any, texts: CustomerTexts) -> tuple[RouteSettings, ...]:
    routes = getattr(config, "SUPPORT_ROUTES", None) or {}
    example = "e.g. {'vip-*': 'agents:#vip', '*-fr': 'agents:#support-fr'}"
    if not isinstance(routes, Mapping):
        raise SettingsError(
            f"SUPPORT_ROUTES must be a dict of customer chat pattern -> agent room, {example}"
        )
    return tuple(_route(pattern, given, texts, example) for pattern, given in routes.items())


def _route(pattern: Any, given: Any, texts: CustomerTexts, example: str) -> RouteSettings:
    if not isinstance(pattern, str) or not pattern.strip():
        raise SettingsError(
            f"SUPPORT_ROUTES: {pattern!r} is not a pattern of customer chats, {example}"
        )
    where = f"SUPPORT_ROUTES[{pattern!r}]"
    if isinstance(given, str):
        given = {"room": given}
    if not isinstance(given, Mapping):
        raise SettingsError(
            f"{where} must name an agent room, or be a dict with the 'room' and texts of its "
            "own, e.g. {'room': 'agents:#support-fr', 'SUPPORT_ACKNOWLEDGEMENT': 'Merci !'}"
        )
    known = {"room", *(name for name, _ in TEXT_SETTINGS.values())}
    unknown = sorted(str(key) for key in given if key not in known)
    if unknown:
        raise SettingsError(
            f"{where} has {', '.join(map(repr, unknown))}; it may hold 'room' and "
            + ", ".join(name for name, _ in TEXT_SETTINGS.values())
        )
    room = given.get("room")
    if not isinstance(room, str) or not room.strip():
        raise SettingsError(f"{where} must name an agent room, {example}")

    def value_of(field: str, name: str, _default: Any) -> Any:
        return given.get(name, getattr(texts, field))  # what the route leaves out: the main one

    own = _texts(value_of, f"{where}: ") if set(given) - {"room"} else None
    return RouteSettings(pattern.strip(), room.strip(), own)


def _duration(config: Any, name: str, unit: str, example: int, off: str) -> timedelta | None:
    """A number of minutes or hours (``unit``); None, False or 0 switch it off."""
    value = getattr(config, name, None)
    if value is None or value is False or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SettingsError(f"{name} must be a number of {unit} (e.g. {example}), or None to {off}")
    return timedelta(**{unit: value})


def _agents(config: Any) -> tuple[str, ...]:
    agents = getattr(config, "SUPPORT_AGENTS", None) or ()
    if isinstance(agents, str) or not all(isinstance(a, str) and a for a in agents):
        raise SettingsError(
            "SUPPORT_AGENTS must be a list of agent identities (names or glob patterns, "
            "e.g. ['alice', 'bob', 'agents:*']), or empty to accept anyone in the agent room"
        )
    return tuple(agents)


def _text_value(name: str, value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None  # switched off
    if not isinstance(value, str):
        raise SettingsError(f"{name} must be a text, or None to send nothing")
    return value


def _business_hours(config: Any) -> BusinessHours | None:
    specs = getattr(config, "SUPPORT_BUSINESS_HOURS", None)
    if not specs:
        return None
    if isinstance(specs, str):
        specs = (specs,)
    zone = getattr(config, "SUPPORT_TIMEZONE", None) or "UTC"
    try:
        return business_hours.parse(specs, zone)
    except (TypeError, ValueError) as problem:
        raise SettingsError(
            f"SUPPORT_BUSINESS_HOURS / SUPPORT_TIMEZONE: {problem}; e.g. "
            "SUPPORT_BUSINESS_HOURS = ('Mon-Fri 09:00-18:00', 'Sat 10:00-13:00') and "
            "SUPPORT_TIMEZONE = 'Europe/Paris'"
        ) from None


def _canned_replies(config: Any) -> dict[str, str]:
    replies = getattr(config, "SUPPORT_CANNED_REPLIES", None) or {}
    example = "e.g. {'refund': 'Your refund is on its way, {customer}.'}"
    if not isinstance(replies, Mapping):
        raise SettingsError(f"SUPPORT_CANNED_REPLIES must be a dict of name -> text, {example}")
    for name, text in replies.items():
        if not isinstance(name, str) or not canned.NAME.match(name):
            raise SettingsError(
                f"SUPPORT_CANNED_REPLIES: {name!r} is not a usable name (letters, digits, "
                f"'-' and '_', at most 32), {example}"
            )
        if not isinstance(text, str) or not text.strip():
            raise SettingsError(f"SUPPORT_CANNED_REPLIES[{name!r}] must be a non-empty text")
        try:
            text.format(**canned.PLACEHOLDERS)
        except (KeyError, IndexError, ValueError) as problem:
            raise SettingsError(
                f"SUPPORT_CANNED_REPLIES[{name!r}] may only use {{customer}} and {{agent}} "
                f"in braces ({type(problem).__name__}: {problem}); write {{{{ and }}}} for "
                "a brace"
            ) from None
    return dict(replies)


def _flag(config: Any, name: str, default: bool) -> bool:
    value = getattr(config, name, default)
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be True or False")
    return value


def _number(config: Any, name: str, default: float, kind: type, minimum: float) -> Any:
    value = getattr(config, name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise SettingsError(f"{name} must be a number of at least {minimum}")
    if kind is int and not isinstance(value, int):
        raise SettingsError(f"{name} must be a whole number of at least {minimum}")
    return kind(value)
