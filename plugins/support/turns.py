"""Whose turn it is in a paced agent room (IRC, Slack): conversations take turns, the one that
had a post least recently first, so one busy customer cannot hold up the others; a flooding
customer goes only at its share of the room."""

from __future__ import annotations

import time

from errbot_support.floods import FloodWatch
from errbot_support.limits import PostLimits
from errbot_support.records import Pending
from errbot_support.relay_settings import FLOOD_SHARE, SERVED_KEPT, SERVED_MEMORY


class Turns:
    def __init__(self, floods: FloodWatch) -> None:
        self._floods = floods
        self._served: dict[int, float] = {}  # conversation -> when it last had a post

    def served(self, number: int) -> None:
        """Conversation ``number`` just had its turn."""
        self._served[number] = time.monotonic()

    def forget_old(self) -> None:
        """Keep only the recent turns: an old one makes no difference to whose turn it is."""
        if len(self._served) > SERVED_KEPT:
            since = time.monotonic() - SERVED_MEMORY
            self._served = {n: at for n, at in self._served.items() if at >= since}

    def next(
        self, waiting: dict[int, list[Pending]], limits: PostLimits, otherwise: float
    ) -> int | float:
        """The conversation whose turn it is: the oldest message first on a network without
        pace; on a paced one, the conversation that had a post least recently, a flooding one
        only once its share allows. A float: how long until one may go (``otherwise`` when
        nothing waits)."""
        now, best, best_key, wait = time.monotonic(), None, None, None
        for number, pending in waiting.items():
            first = pending[0].entry.id
            if not limits.paced:
                key: tuple = (first,)
            else:
                served = self._served.get(number, float("-inf"))
                if self._floods.flooding(number, waiting=True):
                    ready = served + FLOOD_SHARE * limits.interval
                    if ready > now:
                        wait = ready - now if wait is None else min(wait, ready - now)
                        continue
                key = (served, first)
            if best_key is None or key < best_key:
                best, best_key = number, key
        if best is None:
            return wait if wait is not None else otherwise
        return best
