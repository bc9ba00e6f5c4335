"""Where the backend keeps what it delivered and what it could not: the durable cursor,
deduplication window and dead letters in the delivery database (an SQLite file in
``BOT_DATA_DIR`` unless ``PUBNUB_DELIVERY_DB_URL`` says otherwise), or in memory without one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from errbot_pubnub.dead_letters import DeadLetterBox, DeadLetters, DurableDeadLetters
from errbot_pubnub.delivery import DeliveryTracker, DurableDeliveries, RecentDeliveries
from errbot_pubnub.delivery_store import DeliveryDatabase, default_url
from errbot_pubnub.settings import PubNubSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryRecords:
    """The tracker and dead letters, and the database they share (None: in memory)."""

    tracker: DeliveryTracker
    dead_letters: DeadLetters
    database: DeliveryDatabase | None = None


def open_delivery_records(
    config: Any, settings: PubNubSettings, on_error: Callable[[str], None]
) -> DeliveryRecords:
    """Open the delivery database (``on_error`` tells admins when writing to it fails)."""
    url = settings.delivery_db_url
    data_dir = getattr(config, "BOT_DATA_DIR", None)
    if url is None and data_dir:
        url = default_url(data_dir, settings.subscribe_key)
    if url is None:
        log.warning(
            "Neither PUBNUB_DELIVERY_DB_URL nor BOT_DATA_DIR is set: what was delivered is "
            "kept in memory only, so a restart cannot catch up what it missed."
        )
        return DeliveryRecords(
            RecentDeliveries(settings.dedup_window), DeadLetterBox(settings.dead_letter_limit)
        )
    database = DeliveryDatabase(url)
    log.info("PubNub delivery state in %s", database.url)
    return DeliveryRecords(
        DurableDeliveries(database, settings.dedup_window, on_error=on_error),
        DurableDeadLetters(database, settings.dead_letter_limit),
        database,
    )
