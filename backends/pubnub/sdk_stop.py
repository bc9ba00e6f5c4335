"""Stop a threaded PubNub SDK client for good, without leaving a thread or a timer behind.

``PubNub.stop()`` ends the subscribe loop, but:

- a subscribe request already waiting on the server keeps its thread alive until the server
  answers (minutes later), and an answer arriving while the client stops starts the next
  long-poll all the same;
- the reconnection manager's timer (polling PubNub after a network error, then subscribing
  again) is not stopped at all, and its callback re-arms it: a client stopped while it
  reconnects goes on polling, with a new timer thread each time, for as long as the process
  lives (forever with ``maximum_reconnection_retries = -1``);
- the presence heartbeat re-arms its timer after each beat, even one running while it stops.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pubnub.callbacks import ReconnectionCallback
from pubnub.errors import PNERR_CONNECTION_ERROR
from pubnub.exceptions import PubNubException
from pubnub.pubnub import PubNub
from pubnub.request_handlers.httpx import WallClockDeadlineWatchdog

log = logging.getLogger(__name__)

ABORT_TIMEOUT = 2.0  # seconds a stop spends aborting requests still in flight, at most
ABORT_CHECK_INTERVAL = 0.01


def stop_client(pubnub: PubNub) -> None:
    """Stop ``pubnub`` and abort its in-flight requests; never raises.

    What would start something new is disarmed first (timers, the next long-poll), so that a
    callback running right now cannot; then the subscribe loop is stopped (so the aborted
    long-poll counts as cancelled, not as a network error to recover from); then every later
    request is refused and the open sockets are shut down (closing alone does not wake a thread
    blocked reading one); then the client is stopped for good, and the connections of requests
    still in flight are shut down until none is left.
    """
    handler = getattr(pubnub, "_request_handler", None)
    manager = getattr(pubnub, "_subscription_manager", None)
    try:
        if manager is not None:
            _disarm(manager)
            manager.stop()
        if handler is not None:
            _refuse_requests(handler)
    except Exception:
        log.debug("Could not abort the PubNub SDK's open requests", exc_info=True)
    try:
        pubnub.stop()
    except Exception:
        log.exception("Stopping the PubNub SDK failed")
    session = getattr(handler, "_session", None)
    if session is not None:  # a request that connected while the client stopped
        _abort_requests_in_flight(session)


def _abort_requests_in_flight(session: Any) -> None:
    """Shut down the connections of requests still in flight until none is left (or
    ``ABORT_TIMEOUT``), and look once more a moment later: a request that took its session
    just before the client refused new ones may only be connecting now."""
    deadline = time.monotonic() + ABORT_TIMEOUT
    quiet_checks = 0
    while quiet_checks < 2 and time.monotonic() < deadline:
        WallClockDeadlineWatchdog._force_shutdown_connections(session)
        quiet_checks = 0 if _busy(session) else quiet_checks + 1
        time.sleep(ABORT_CHECK_INTERVAL)


def _busy(session: Any) -> bool:
    """Whether a connection of ``session`` serves a request (httpcore's pool, read leniently:
    its internals may change, and then this only ends the sweep early)."""
    pool = getattr(getattr(session, "_transport", None), "_pool", None)
    for connection in list(getattr(pool, "_connections", None) or ()):
        try:
            if not connection.is_idle() and not connection.is_closed():
                return True
        except Exception:
            continue
    return False


def _disarm(manager: Any) -> None:
    """Keep the subscription manager from starting anything again: the next long-poll, the
    reconnection manager's attempts, the presence heartbeat."""
    manager._start_subscribe_loop = _stay_stopped  # called by a long-poll's answer
    reconnection = getattr(manager, "_reconnection_manager", None)
    if reconnection is not None:
        # A ``time`` request in flight answers into these: it must neither schedule the next
        # attempt nor subscribe again.
        reconnection.start_polling = _stay_stopped
        reconnection._register_heartbeat_timer = _stay_stopped
        reconnection.set_reconnection_listener(_NoReconnection())
        reconnection.stop_heartbeat_timer()
    heartbeat = getattr(manager, "_heartbeat_periodic_callback", None)
    if heartbeat is not None:
        heartbeat._schedule_next = _stay_stopped  # a beat running now must not schedule another
        heartbeat.stop()


def _refuse_requests(handler: Any) -> None:
    """Make every later request fail at once, and abort the ones waiting for an answer."""
    session = getattr(handler, "_session", None)
    handler._ensure_session = _refuse
    if session is not None:
        WallClockDeadlineWatchdog._force_shutdown_connections(session)


class _NoReconnection(ReconnectionCallback):
    def on_reconnect(self) -> None:
        _stay_stopped()


def _stay_stopped(*_: Any) -> None:
    log.debug("Not starting anything: this PubNub client was stopped")


def _refuse() -> Any:
    raise PubNubException(pn_error=PNERR_CONNECTION_ERROR, errormsg="the client was stopped")
