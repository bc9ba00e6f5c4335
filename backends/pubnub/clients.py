"""The SDK clients the backend makes, all configured alike from its settings."""

from __future__ import annotations

from errbot_pubnub.sdk import Client, PNConfiguration, PNReconnectionPolicy, new_client
from errbot_pubnub.settings import PubNubSettings


def backend_client(settings: PubNubSettings) -> Client:
    """A client of the bot's keyset, under its user id, that never reconnects by itself."""
    config = PNConfiguration()
    config.publish_key = settings.publish_key
    config.subscribe_key = settings.subscribe_key
    config.secret_key = settings.secret_key
    config.user_id = settings.user_id
    config.ssl = settings.ssl
    if settings.origin:
        config.origin = settings.origin
    config.daemon = True  # SDK threads must never keep the process alive
    # The supervisor resubscribes (and catches up) itself: the SDK's own reconnection
    # would resume from PubNub's short live buffer only.
    config.reconnect_policy = PNReconnectionPolicy.NONE
    config.suppress_leave_events = True
    config.disable_config_locking = False  # the SDK copies and freezes it: no later surprises
    return new_client(config, token=settings.token)
