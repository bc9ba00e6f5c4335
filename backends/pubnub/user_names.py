"""Customers' display names from PubNub App Context, so agents read "Dana Smith", not a UUID.

Apps that use App Context store each user's ``name``; the backend reads it the first time a
user writes and keeps it for :data:`NAME_TTL` seconds (a user without one, or one the token
may not read, is asked again only after that). A lookup that fails never holds a message
back: the user id stands in for the name.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from pubnub.exceptions import PubNubException

log = logging.getLogger(__name__)

NAME_TTL = 600.0
MAX_NAMES = 10_000  # the least recently seen are forgotten first

Fetch = Callable[[str], "str | None"]


class UserNames:
    def __init__(
        self,
        fetch: Fetch,
        *,
        ttl: float = NAME_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._known: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._refused_said = False

    def name_of(self, user_id: str) -> str | None:
        """The user's App Context name, or None (no name, or it could not be read)."""
        now = self._clock()
        with self._lock:
            known = self._known.get(user_id)
            if known is not None and known[1] > now:
                self._known.move_to_end(user_id)
                return known[0]
        name = self._look_up(user_id)
        with self._lock:
            self._known[user_id] = (name, now + self._ttl)
            self._known.move_to_end(user_id)
            while len(self._known) > MAX_NAMES:
                self._known.popitem(last=False)
        return name

    def _look_up(self, user_id: str) -> str | None:
        try:
            name = self._fetch(user_id)
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
                log.debug("Could not read the App Context name of %s: %s", user_id, exc)
            return None
        except Exception:
            log.exception("Could not read the App Context name of %s", user_id)
            return None
        if not isinstance(name, str) or not name.strip():
            return None
        return name.strip()
