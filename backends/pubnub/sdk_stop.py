"""Stop a threaded PubNub SDK client without leaving its long-poll thread behind.

``PubNub.stop()`` ends the subscribe loop, but a subscribe request already waiting on the
server keeps its thread alive until the server answers (minutes later). Shutting the client's
sockets down makes that request fail at once, and the SDK then ignores the cancelled call.
"""

from __future__ import annotations

import logging

from pubnub.pubnub import PubNub
from pubnub.request_handlers.httpx import WallClockDeadlineWatchdog

log = logging.getLogger(__name__)


def stop_client(pubnub: PubNub) -> None:
    """Stop ``pubnub`` and abort its in-flight requests; never raises.

    The subscribe loop is stopped first (so the aborted long-poll counts as cancelled, not as a
    network error to recover from), then the sockets are shut down (closing alone does not wake
    a thread blocked reading one), then the client is stopped for good.
    """
    handler = getattr(pubnub, "_request_handler", None)
    manager = getattr(pubnub, "_subscription_manager", None)
    try:
        if manager is not None:
            reconnection = getattr(manager, "_reconnection_manager", None)
            if reconnection is not None:
                reconnection.stop_heartbeat_timer()
                # The aborted long-poll may be reported as a network error: it must not make
                # the SDK poll the server and subscribe again after this stop.
                reconnection.start_polling = _stay_stopped
            manager.stop()
        session = getattr(handler, "_session", None)
        if session is not None:
            WallClockDeadlineWatchdog._force_shutdown_connections(session)
    except Exception:
        log.debug("Could not abort the PubNub SDK's open requests", exc_info=True)
    try:
        pubnub.stop()
    except Exception:
        log.exception("Stopping the PubNub SDK failed")


def _stay_stopped() -> None:
    log.debug("Not reconnecting: this PubNub client was stopped")
