"""Customer sessions: what a company's backend asks for when a customer opens the chat.

Given a customer's user id, :meth:`CustomerSessions.open` puts the customer's channel in a
support channel group that has room (the first group not full; the next group is created when
every one so far is full, up to the 10 groups one subscriber holds, or up to 200 when the
instances share the groups out, ``PUBNUB_SHARE_GROUPS``), has the bot follow that group if it
did not yet, and grants an Access Manager token for that customer alone: READ and
WRITE on its own channel, GET and UPDATE on that channel's App Context metadata (an app on
PubNub's Chat SDK reads and creates it to open the conversation), GET and UPDATE on its own App
Context user, nothing on any channel group nor on any other channel or user (no JOIN, no
MANAGE, no DELETE). A customer's app never needs the secret key nor MANAGE on a group, so no
customer can list or remove another customer's channel.

The bot serves it over HTTP (the ``CustomerSessions`` plugin, a webhook of Errbot's built-in
webserver); anything else holding the secret key can call :meth:`CustomerSessions.open` itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from errbot_pubnub import refusals
from errbot_pubnub.sdk import Client, PubNubException
from errbot_pubnub.settings import MAX_CHANNEL_GROUPS, invalid_name_reason

log = logging.getLogger(__name__)

DEFAULT_GROUP_SIZE = 100  # channels per group on PubNub's default plan (2,000 on request)
DEFAULT_TOKEN_TTL = 24 * 60  # minutes
MAX_TOKEN_TTL = 30 * 24 * 60  # the longest PubNub grants
DEFAULT_CHANNEL_PATTERN = "{user_id}-support"
RETRY_AFTER = 5  # seconds: what a caller waits after a refusal that may pass on its own


class SessionError(Exception):
    """A session that cannot be opened; ``str()`` is one sentence, ``status`` an HTTP code and
    ``retry_after`` the seconds after which asking again may succeed (``None``: it will not
    until someone changes something)."""

    def __init__(
        self,
        sentence: str,
        status: int,
        pubnub_status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.status = status
        self.pubnub_status = pubnub_status  # what PubNub answered, when it refused
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.sentence


@dataclass(frozen=True)
class SessionGrant:
    """What the customer's app needs: where to chat, and the token that lets it (``None``
    on a keyset without Access Manager)."""

    user_id: str
    channel: str
    channel_group: str
    token: str | None
    ttl_minutes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_names(groups: tuple[str, ...], limit: int = MAX_CHANNEL_GROUPS) -> list[str]:
    """The groups customers are put in, in order: ``groups``, then ``<first>-2``, ``<first>-3``...
    up to ``limit`` groups in all."""
    names = list(dict.fromkeys(groups))[:limit]
    number = 2
    while len(names) < limit:
        candidate = f"{groups[0]}-{number}"
        number += 1
        if candidate not in names:
            names.append(candidate)
    return names


def channel_for(pattern: str, user_id: str) -> str:
    """The customer's channel: ``pattern`` with ``{user_id}`` filled in."""
    return pattern.format(user_id=user_id)


def check_channel_pattern(pattern: Any, setting: str) -> str:
    """``pattern`` if it makes channel names of user ids; else a one-sentence ``ValueError``."""
    example = f"e.g. {setting} = '{DEFAULT_CHANNEL_PATTERN}'"
    if not isinstance(pattern, str) or "{user_id}" not in pattern:
        raise ValueError(f"{setting} must be a text containing {{user_id}}, {example}.")
    try:
        sample = channel_for(pattern, "dana")
    except (KeyError, IndexError, ValueError):
        raise ValueError(
            f"{setting} may only use the placeholder {{user_id}}, {example}."
        ) from None
    reason = invalid_name_reason(sample)
    if reason:
        raise ValueError(f"{setting} does not make a valid channel name: {reason}.")
    return pattern


class CustomerSessions:
    """Opens customer sessions with a PubNub client that holds the keyset's secret key.

    ``follow_group(group)`` is called for the group a channel was put in, so the running bot
    subscribes to it (it must do nothing for a group it follows already). Sessions are opened
    one at a time, so two customers never overfill a group between its listing and the add.
    """

    def __init__(
        self,
        pubnub: Client,
        *,
        channel_groups: tuple[str, ...],
        can_grant: bool,
        group_size: int = DEFAULT_GROUP_SIZE,
        token_ttl: int = DEFAULT_TOKEN_TTL,
        channel_pattern: str = DEFAULT_CHANNEL_PATTERN,
        follow_group: Callable[[str], None] | None = None,
        limit: int = MAX_CHANNEL_GROUPS,
    ) -> None:
        """``limit``: how many groups in all (``settings.channel_group_limit``)."""
        if not channel_groups:
            raise ValueError("at least one channel group is needed")
        self._pubnub = pubnub
        self.groups = group_names(channel_groups, limit)
        # How many of ``groups`` may hold channels (found on first use, then grown as groups
        # are made): a group is made only when every one before it is full.
        self._extent: int | None = None
        self._configured = min(len(set(channel_groups)), limit)
        self._can_grant = can_grant
        self._group_size = group_size
        self._token_ttl = token_ttl
        self._pattern = channel_pattern
        self._follow_group = follow_group
        self._lock = threading.Lock()

    def channel_of(self, user_id: str) -> str:
        return channel_for(self._pattern, user_id)

    def open(self, user_id: Any, channel: str | None = None) -> SessionGrant:
        """Register ``user_id``'s channel (the pattern's, unless ``channel`` names another) and
        grant its token; :class:`SessionError` if not."""
        reason = invalid_name_reason(user_id)
        if reason:
            raise SessionError(f"The user id {user_id!r} cannot be used: {reason}.", 400)
        channel = channel or self.channel_of(user_id)
        reason = invalid_name_reason(channel)
        if reason:
            raise SessionError(
                f"The user id {user_id!r} makes the channel {channel!r}, which cannot be used: "
                f"{reason}.",
                400,
            )
        with self._lock:
            group = self._place(channel)
        if self._follow_group is not None:
            self._follow_group(group)
        token = self._grant(user_id, channel) if self._can_grant else None
        log.info("Customer session for %r: channel %s in group %s", user_id, channel, group)
        return SessionGrant(user_id, channel, group, token, self._token_ttl)

    def groups_in_use(self) -> list[str]:
        """The groups that hold channels (the first always counts), for the bot to follow.

        The configured groups and every group up to the tenth are listed; past them the
        listing stops at the first empty group (the service makes groups in order, each when
        the ones before are full), so a bot sharing up to 200 groups lists only those in use.
        """
        used = []
        for index, group in enumerate(self.groups):
            if group == self.groups[0] or self._channels(group):
                used.append(group)
            elif index >= max(self._configured, MAX_CHANNEL_GROUPS):
                break
        last = self.groups.index(used[-1]) + 1
        self._extent = max(self._extent or 0, self._configured, last)
        return used

    def _channels(self, group: str) -> list[str]:
        try:
            return self._pubnub.channels_in_group(group)
        except PubNubException as exc:
            raise _pubnub_failed(f"list the channel group {group!r}", exc) from exc

    def _place(self, channel: str) -> str:
        """The group ``channel`` is in, after adding it to the first with room if needed.

        The groups that may hold channels are all listed (is the channel there already?); the
        ones past them only until one has room.
        """
        if self._extent is None:
            self.groups_in_use()
        extent = self._extent or len(self.groups)
        room: str | None = None
        for index, group in enumerate(self.groups):
            if index >= extent and room is not None:
                break
            channels = self._channels(group)
            if channel in channels:
                return group
            if room is None and len(channels) < self._group_size:
                room = group
        if room is not None:
            self._add(channel, room)
            self._extent = max(extent, self.groups.index(room) + 1)
            return room
        raise SessionError(
            f"Every channel group is full ({len(self.groups)} groups of "
            f"{self._group_size} channels): remove the channels of customers gone for good, or "
            "raise PUBNUB_SESSION_GROUP_SIZE if your PubNub plan allows larger groups.",
            503,
        )

    def _add(self, channel: str, group: str) -> None:
        try:
            self._pubnub.add_to_group(group, [channel])
        except PubNubException as exc:
            raise _pubnub_failed(f"add {channel!r} to the channel group {group!r}", exc) from exc

    def _grant(self, user_id: str, channel: str) -> str:
        try:
            return self._pubnub.grant_customer_token(user_id, channel, self._token_ttl)
        except PubNubException as exc:
            raise _pubnub_failed(f"grant a token to {user_id!r}", exc) from exc


def _pubnub_failed(action: str, exc: PubNubException) -> SessionError:
    code = exc.get_status_code()
    status = f" ({code})" if code else ""
    passing = not code or code == 429 or code >= 500  # unreachable, too many requests, outage
    return SessionError(
        f"PubNub refused to {action}{status}: {refusals.reason(exc)}.",
        502,
        code or None,
        RETRY_AFTER if passing else None,
    )
