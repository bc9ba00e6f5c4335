"""Is the publish key right? Asked once at start, so a wrong one stops the bot at once.

Only a publish uses the publish key, and PubNub answers a key it does not know with a 400
("Invalid Key") before anything else: without this check a wrong key would show only when
the first reply to a customer fails. The check publishes one small message that PubNub does
not store, on a channel of its own that no customer and no channel group has; an Access
Manager refusal (403) means the key itself is right.
"""

from __future__ import annotations

import logging

from errbot_pubnub import refusals
from errbot_pubnub.sdk import Client, PubNubException

log = logging.getLogger(__name__)

CHECK_CHANNEL_SUFFIX = "-key-check"


def check_channel(user_id: str) -> str:
    return f"{user_id}{CHECK_CHANNEL_SUFFIX}"


def publish_key_refusal(pubnub: Client, user_id: str) -> str | None:
    """The sentence to stop with when PubNub does not know the publish key, else ``None``."""
    channel = check_channel(user_id)
    try:
        pubnub.publish_unstored(channel, {"check": "publish key"})
    except PubNubException as exc:
        if refusals.wrong_key(exc) == "publish_key":
            return refusals.wrong_key_sentence("publish_key", exc)
        log.debug("The publish key check on %s: %s", channel, refusals.reason(exc))
    except Exception as exc:  # unreachable now: the subscription reports that better
        log.debug("The publish key check on %s failed: %s", channel, exc)
    return None
