"""One SDK client's subscription, as its statuses describe it.

The SDK reports on its own threads; :meth:`SubscriptionSession.note` only records what a status
means for the subscription (connected, failed, refused), so the supervisor, woken after it,
decides what to do on its own thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from errbot_pubnub import refusals
from errbot_pubnub.sdk import Client, PNStatus, PNStatusCategory

log = logging.getLogger(__name__)

#: Statuses that tell of a problem without ending the subscription by themselves.
ERRORS = (
    PNStatusCategory.PNUnexpectedDisconnectCategory,
    PNStatusCategory.PNNetworkIssuesCategory,
    PNStatusCategory.PNConnectionErrorCategory,
    PNStatusCategory.PNBadRequestCategory,
    PNStatusCategory.PNUnknownCategory,
    PNStatusCategory.PNInternalExceptionCategory,
    PNStatusCategory.PNMalformedResponseCategory,
    PNStatusCategory.PNTLSConnectionFailedCategory,
)


@dataclass
class SubscriptionSession:
    """One SDK client's subscription: what it subscribes to and how it is doing."""

    number: int
    client: Client
    connected: bool = False
    failed: bool = False
    denied: PNStatus | None = None
    detail: str = ""
    since: int = 0  # where a channel without a cursor starts (that of the first catch-up)
    full_answers: dict[str, str | None] = field(default_factory=dict)  # channel -> its group
    wrong_key: PNStatus | None = None  # PubNub does not know the subscribe key
    regrouped: bool = False  # the groups held changed: it ends to subscribe to the new ones
    groups: list[str] = field(default_factory=list)  # what it subscribes to

    def note(self, status: PNStatus) -> bool:
        """Record what ``status`` means; whether the supervisor should look (never blocks)."""
        category = status.category
        if category in (
            PNStatusCategory.PNConnectedCategory,
            PNStatusCategory.PNReconnectedCategory,
        ):
            self.connected = True
        elif category is PNStatusCategory.PNAccessDeniedCategory:
            self.denied = status
            self.failed = True
        elif category is PNStatusCategory.PNDisconnectedCategory:
            self.failed = True
        elif refusals.wrong_key(status) == "subscribe_key":
            self.wrong_key = status  # a setting to fix, not an outage to wait out
            self.failed = True
        elif category in ERRORS:
            self.detail = status_detail(status)
            log.warning("PubNub subscription error: %s", self.detail)
        else:
            log.debug("PubNub status %s: %s", category, status_detail(status))
            return False
        return True

    def end(self, detail: str, *, regrouped: bool = False) -> None:
        """End this subscription from outside its statuses (``detail`` says why)."""
        self.detail = detail
        self.regrouped = self.regrouped or regrouped
        self.failed = True


def status_detail(status: Any) -> str:
    """A status's HTTP code and PubNub's reason, or its error text, for the logs."""
    code = refusals.status_code(status)
    text = refusals.reason(status) if code else refusals.error_text(status)
    category = getattr(getattr(status, "category", None), "name", "")
    return f"HTTP {code}: {text}" if code else (text or category)
