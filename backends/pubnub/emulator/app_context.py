"""App Context objects of one keyset: users, channels and the memberships between them.

Kept apart from the routes so that what a request may see (``include``), which objects a
filter keeps, sorting and paging are plain functions over plain dicts.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from errbot_pubnub.emulator import filters

USER_FIELDS = ("name", "email", "externalId", "profileUrl", "status", "type")
CHANNEL_FIELDS = ("name", "description", "status", "type")
MEMBERSHIP_FIELDS = ("status", "type")
#: PubNub's largest page of a list, and its default size.
MAX_PAGE = 100


class ListError(ValueError):
    """A list request PubNub would refuse (a bad filter, sort or page); says why."""


def _stamp(stored: dict[str, Any]) -> None:
    stored["updated"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    stored.pop("eTag", None)
    digest = hashlib.sha1(json.dumps(stored, sort_keys=True, default=str).encode())
    stored["eTag"] = digest.hexdigest()[:16]


def update(
    stored: dict[str, Any] | None,
    object_id: str | None,
    fields: Iterable[str],
    body: Mapping[str, Any],
) -> dict[str, Any]:
    """``stored`` with the fields of ``body`` set (a partial update), stamped; new if None
    (with ``object_id`` as its ``id``, if it has one: a membership has none)."""
    result = stored if stored is not None else ({"id": object_id} if object_id else {})
    for name in fields:
        if name in body:
            result[name] = body[name]
    if "custom" in body:
        result["custom"] = body["custom"]
    _stamp(result)
    return result


def shown(stored: Mapping[str, Any], include: set[str], prefix: str = "") -> dict[str, Any]:
    """An object as a request sees it: ``custom`` only when included (``prefix`` for nested)."""
    visible = {k: v for k, v in stored.items() if k != "custom"}
    if prefix + "custom" in include:
        visible["custom"] = stored.get("custom")
    return visible


def includes(text: str | None) -> set[str]:
    return {part.strip() for part in (text or "").split(",") if part.strip()}


@dataclass
class AppContext:
    """Users, channels and memberships (user id -> channel id -> the membership's fields)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def remove_user(self, user_id: str) -> None:
        self.users.pop(user_id, None)
        self.memberships.pop(user_id, None)

    def remove_channel(self, channel: str) -> None:
        self.channels.pop(channel, None)
        for joined in self.memberships.values():
            joined.pop(channel, None)

    def change_memberships(
        self, pairs: Iterable[tuple[str, str]], body: Mapping[str, Any] | None
    ) -> None:
        """Set (``body`` given: custom, status, type) or delete (None) each (user, channel)."""
        for user_id, channel in pairs:
            joined = self.memberships.setdefault(user_id, {})
            if body is None:
                joined.pop(channel, None)
                continue
            joined[channel] = update(joined.get(channel), None, MEMBERSHIP_FIELDS, body)

    def memberships_of(self, user_id: str, include: set[str]) -> list[tuple[dict, dict]]:
        """(full view for filtering, view the request sees) of each channel the user is in."""
        return [
            self._membership("channel", channel, self.channels.get(channel), fields, include)
            for channel, fields in self.memberships.get(user_id, {}).items()
        ]

    def members_of(self, channel: str, include: set[str]) -> list[tuple[dict, dict]]:
        return [
            self._membership("uuid", user_id, self.users.get(user_id), joined[channel], include)
            for user_id, joined in self.memberships.items()
            if channel in joined
        ]

    @staticmethod
    def _membership(
        side: str,
        other_id: str,
        other: dict[str, Any] | None,
        fields: dict[str, Any],
        include: set[str],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        other = other if other is not None else {"id": other_id}
        full = {side: other, **fields}
        visible: dict[str, Any] = {
            side: shown(other, include, side + ".") if side in include else {"id": other_id}
        }
        for name in MEMBERSHIP_FIELDS:
            if name in include and name in fields:
                visible[name] = fields[name]
        if "custom" in include:
            visible["custom"] = fields.get("custom")
        visible["updated"], visible["eTag"] = fields["updated"], fields["eTag"]
        return full, visible


def page(
    items: list[tuple[dict[str, Any], dict[str, Any]]], query: Mapping[str, str], sort: list[str]
) -> dict[str, Any]:
    """A list answer: filtered, sorted, one page of ``limit``, ``totalCount`` when asked."""
    expression = query.get("filter")
    if expression:
        try:
            keep = filters.parse(expression)
        except filters.FilterError as error:
            raise ListError(str(error)) from None
        items = [item for item in items if keep(item[0])]
    for key in reversed(sort):
        name, _, order = key.partition(":")
        if order not in ("", "asc", "desc"):
            raise ListError(f"Invalid sort order {order!r}: asc or desc")
        path = name.split(".")
        items = sorted(
            items,
            key=lambda item, path=path: _sort_key(item[0], path),
            reverse=order == "desc",
        )
    try:
        limit = int(query.get("limit") or MAX_PAGE)
    except ValueError:
        raise ListError(f"Invalid limit {query.get('limit')!r}") from None
    if not 1 <= limit <= MAX_PAGE:
        raise ListError(f"Invalid limit {limit}: from 1 to {MAX_PAGE}")
    start = _offset(query.get("start"))
    if query.get("end") and not query.get("start"):
        start = max(0, _offset(query.get("end")) - limit)
    chosen = items[start : start + limit]
    answer: dict[str, Any] = {"status": 200, "data": [visible for _, visible in chosen]}
    if query.get("count") == "true" or "totalCount" in includes(query.get("include")):
        answer["totalCount"] = len(items)
    if start + limit < len(items):
        answer["next"] = _cursor(start + limit)
    if start > 0:
        answer["prev"] = _cursor(start)
    return answer


def _sort_key(obj: Mapping[str, Any], path: list[str]) -> tuple[int, str]:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return (value is None, str(value) if value is not None else "")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        raise ListError(f"Invalid page cursor {cursor!r}") from None
