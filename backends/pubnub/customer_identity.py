"""Who is the customer of a channel, and what to do with a message by anyone else.

Each customer has a channel of their own. Who that customer is follows a rule
(``PUBNUB_CUSTOMER_IS``):

- ``"channel"``: the user the channel is named for (``PUBNUB_CUSTOMER_CHANNEL``, e.g.
  ``"{user_id}-support"``: ``dana`` in ``dana-support``); a channel the pattern does not fit
  follows the next rule;
- ``"first"``: the first user who wrote there, remembered in the delivery database.

A message there by any other user (``PUBNUB_OTHER_WRITERS``) is delivered flagged
(``"flag"``: ``msg.extras["not_the_customer"]`` is ``True``, the sender is the user who wrote
it) or not delivered at all (``"refuse"``: the admins are told). The bot's own user id is not a
customer; :mod:`errbot_pubnub.inbound` deals with messages under it.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from errbot_common.database import lock_schema
from errbot_pubnub.customer_sessions import DEFAULT_CHANNEL_PATTERN, check_channel_pattern
from errbot_pubnub.settings import PubNubConfigurationError

log = logging.getLogger(__name__)

RULES = ("channel", "first")
OTHER_WRITERS = ("flag", "refuse")

_metadata = MetaData()

#: The customer of each channel under the "first writer" rule.
channel_customers = Table(
    "pubnub_channel_customer",
    _metadata,
    Column("channel", String, primary_key=True),
    Column("user_id", String, nullable=False),
)


@dataclass(frozen=True)
class IdentitySettings:
    rule: str  # "channel" or "first"
    other_writers: str  # "flag" or "refuse"
    channel_pattern: str


def read_identity_settings(config: Any) -> IdentitySettings:
    """The three settings, checked; each mistake is one sentence naming its setting."""
    rule = getattr(config, "PUBNUB_CUSTOMER_IS", "channel")
    if rule not in RULES:
        raise PubNubConfigurationError(
            f"PUBNUB_CUSTOMER_IS must be 'channel' (the user the channel is named for) or "
            f"'first' (the first user who wrote there), not {rule!r}."
        )
    others = getattr(config, "PUBNUB_OTHER_WRITERS", "flag")
    if others not in OTHER_WRITERS:
        raise PubNubConfigurationError(
            f"PUBNUB_OTHER_WRITERS must be 'flag' (delivered, marked as not from the customer) "
            f"or 'refuse' (not delivered), not {others!r}."
        )
    try:
        pattern = check_channel_pattern(
            getattr(config, "PUBNUB_CUSTOMER_CHANNEL", DEFAULT_CHANNEL_PATTERN),
            "PUBNUB_CUSTOMER_CHANNEL",
        )
    except ValueError as problem:
        raise PubNubConfigurationError(str(problem)) from None
    return IdentitySettings(rule, others, pattern)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    before, _, after = pattern.partition("{user_id}")
    return re.compile(f"^{re.escape(before)}(?P<user_id>.+){re.escape(after)}$")


class FirstWriters:
    """The first writer of each channel: in the delivery database, or in memory without one."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()
        if engine is not None:
            with engine.begin() as connection:
                lock_schema(connection)
                channel_customers.create(connection, checkfirst=True)

    def customer_of(self, channel: str, writer: str) -> str:
        """The channel's customer; ``writer`` becomes it if the channel has none yet."""
        with self._lock:
            known = self._known.get(channel)
            if known is None:
                known = self._known[channel] = self._recorded(channel, writer)
            return known

    def _recorded(self, channel: str, writer: str) -> str:
        if self._engine is None:
            return writer
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(channel_customers).values(channel=channel, user_id=writer)
                )
            return writer
        except IntegrityError:  # already recorded (before a restart, or by another process)
            with self._engine.connect() as connection:
                found = connection.execute(
                    select(channel_customers.c.user_id).where(
                        channel_customers.c.channel == channel
                    )
                ).scalar()
            return str(found) if found is not None else writer


class CustomerIdentity:
    """Applies the rule: the customer of a channel, given who just wrote there."""

    def __init__(self, settings: IdentitySettings, engine: Engine | None) -> None:
        self.settings = settings
        self._named = _pattern_regex(settings.channel_pattern)
        self._first = FirstWriters(engine)

    @property
    def refuses_others(self) -> bool:
        return self.settings.other_writers == "refuse"

    def customer_of(self, channel: str, writer: str) -> str:
        if self.settings.rule == "channel":
            named = self._named.match(channel)
            if named:
                return named.group("user_id")
        return self._first.customer_of(channel, writer)
