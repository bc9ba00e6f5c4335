"""Customers as PubNub App Context knows them, so agents read "Dana Smith" and her email, not a
UUID.

Apps that use App Context store each user's ``name``, and often an ``email``, a ``profileUrl``
(their page in the company's CRM) and an ``externalId`` (their id in the company's systems).
The backend reads them the first time a user writes and keeps them for :data:`PROFILE_TTL`
seconds (a user without any, or one the token may not read, is asked again only after that).
A lookup that fails never holds a message back: the user id stands in for the name.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from errbot_pubnub.sdk import PubNubException

log = logging.getLogger(__name__)

PROFILE_TTL = 600.0
MAX_PROFILES = 10_000  # the least recently seen are forgotten first

#: Returns App Context's fields of a user (``result.data`` of ``get_uuid_metadata``).
Fetch = Callable[[str], "Mapping[str, Any] | None"]

#: App Context's field -> the key in ``Profile.details()`` (and in ``extras["customer"]``).
DETAILS = {"email": "email", "profileUrl": "profile_url", "externalId": "external_id"}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class Profile:
    """What App Context says of a user, as far as support shows it."""

    name: str | None = None
    email: str | None = None
    profile_url: str | None = None
    external_id: str | None = None

    @classmethod
    def from_app_context(cls, data: Mapping[str, Any] | None) -> Profile | None:
        """None when App Context holds nothing worth showing for the user."""
        if not isinstance(data, Mapping):
            return None
        fields = {key: _text(data.get(field)) for field, key in DETAILS.items()}
        profile = cls(name=_text(data.get("name")), **fields)
        return profile if profile != cls() else None

    def details(self) -> dict[str, str]:
        """The user's details besides the name, for ``extras["customer"]``."""
        return {key: getattr(self, key) for key in DETAILS.values() if getattr(self, key)}


class UserProfiles:
    def __init__(
        self,
        fetch: Fetch,
        *,
        ttl: float = PROFILE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._known: OrderedDict[str, tuple[Profile | None, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._refused_said = False

    def profile_of(self, user_id: str) -> Profile | None:
        """The user's App Context profile, or None (none kept, or it could not be read)."""
        now = self._clock()
        with self._lock:
            known = self._known.get(user_id)
            if known is not None and known[1] > now:
                self._known.move_to_end(user_id)
                return known[0]
        profile = self._look_up(user_id)
        with self._lock:
            self._known[user_id] = (profile, now + self._ttl)
            self._known.move_to_end(user_id)
            while len(self._known) > MAX_PROFILES:
                self._known.popitem(last=False)
        return profile

    def _look_up(self, user_id: str) -> Profile | None:
        try:
            return Profile.from_app_context(self._fetch(user_id))
        except PubNubException as exc:
            status = exc.get_status_code()
            if status == 404:
                return None  # no App Context for this user
            if status == 403 and not self._refused_said:
                self._refused_said = True
                log.warning(
                    "PubNub refused to read App Context (403): customers are shown by user id. "
                    "Grant the bot GET on uuids (e.g. a uuid pattern '.*'), or set "
                    "PUBNUB_USER_NAMES = False."
                )
            else:
                log.debug("Could not read the App Context of %s: %s", user_id, exc)
            return None
        except Exception:
            log.exception("Could not read the App Context of %s", user_id)
            return None
