"""What admins are told when the subscription is down or history cannot be read: each notice
says what customers are affected by and what the bot does (or what an admin must do)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from errbot_pubnub import refusals
from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.message import timetoken_to_datetime

if TYPE_CHECKING:
    from errbot_pubnub.sdk import PNStatus
    from errbot_pubnub.settings import PubNubSettings

OUTAGE_NOTICE_AFTER = 30.0  # seconds without a subscription before admins are told


@dataclass
class Outage:
    """The subscription's failures in a row since it was last live, and whether admins were
    told of the outage (once per outage)."""

    failures: int = 0
    since: float | None = None
    told: bool = False

    def over(self) -> None:
        """The subscription is live again (or ended on purpose): no outage."""
        self.failures, self.since, self.told = 0, None, False

    def failed(self) -> int:
        """One more failure: how many in a row."""
        self.failures += 1
        self.since = self.since or time.monotonic()
        return self.failures

    def tell_if_long(self, notices: AdminNotices, reason: str) -> None:
        """Tell admins once the subscription has been down :data:`OUTAGE_NOTICE_AFTER` s."""
        down_for = time.monotonic() - (self.since or time.monotonic())
        if self.told or down_for < OUTAGE_NOTICE_AFTER:
            return
        self.told = True
        notices.notify(
            "disconnected",
            f"The PubNub subscription has been down for {down_for:.0f} s ({reason}). "
            "The bot keeps trying; messages written meanwhile are caught up from "
            "history when it is back.",
        )


def denied_sentence(settings: PubNubSettings, status: PNStatus) -> str:
    """Why PubNub refused to subscribe (a 403), and what to check."""
    refused = (
        f"PubNub refused to subscribe {settings.user_id!r} to channel group(s) "
        f"{', '.join(settings.channel_groups)} (403 Forbidden: {refusals.reason(status)})"
    )
    if not settings.secret_key and not settings.token:
        return (
            f"{refused}: Access Manager is on for this keyset, so BOT_IDENTITY needs a "
            "'secret_key', or a 'token' that grants read on these groups."
        )
    needed = "the secret key" if settings.secret_key else "the token in BOT_IDENTITY['token']"
    return f"{refused}: check BOT_IDENTITY keys and that {needed} grants read on these groups."


def tell_access_denied(notices: AdminNotices, sentence: str, retry_interval: float) -> None:
    notices.notify(
        "access denied",
        f"{sentence} No customer message is received until then; the bot tries again "
        f"every {retry_interval:g} s.",
    )


def tell_history_unreadable(notices: AdminNotices, reason: str) -> None:
    notices.notify(
        "catch-up",
        f"The bot cannot read PubNub history right now ({reason}); customer messages wait "
        "until it can, none is lost.",
    )


def tell_history_disabled(notices: AdminNotices) -> None:
    notices.notify(
        "no history",
        "This PubNub keyset has no Message Persistence (Storage & Playback): messages "
        "customers write while the bot is stopped or disconnected cannot be recovered. "
        "Enable Message Persistence for the keyset in the PubNub Admin Portal.",
    )


def tell_catch_up_refused(
    notices: AdminNotices, reason: str, since: int, channels: list[str] | None = None
) -> None:
    where = f"channels {', '.join(channels[:10])}" if channels else "the channel groups"
    notices.notify(
        "catch-up refused",
        f"PubNub refused the catch-up of {where} ({reason}): what customers wrote there "
        "while the bot was not listening was not delivered (its last catch-up reached "
        f"{timetoken_to_datetime(since):%Y-%m-%d %H:%M:%S} UTC). The bot needs READ on the "
        "customers' channels and MANAGE on its channel groups.",
    )


def skipped_text(skipped: dict[str, str]) -> str:
    """The first few channels a catch-up skipped, with why."""
    return "; ".join(f"{channel}: {why}" for channel, why in sorted(skipped.items())[:5])
