"""Staying subscribed to the channel groups with nothing missed and nothing doubled.

The SDK's own reconnection resumes from its last timetoken and relies on PubNub's live buffer
(about 100 messages per channel for 20 minutes): a longer or busier outage loses messages, and
after it gives up (or on a 403) nothing resubscribes. So the SDK is told not to reconnect, and
this supervisor runs each subscription's life on its own thread:

    hold live messages ─► server time T ─► new SDK client, subscribe ─► connected
        ─► catch up from history (every channel past its cursor) ─► release live messages
        ─► ... until the subscription fails ─► back off, and again from the top

Because live messages are held while history is read, and history is read only once the new
subscription is live, every message is either in history or live (often both: the repeat is
dropped by the tracker), and each channel's messages reach Errbot in order. ``T`` becomes the
resume point for channels without a cursor once everything before it is handled.

While live, a full subscribe answer (100 messages) may come after a gap: PubNub keeps only the
last 100 messages of a channel for a subscriber that is behind. Its messages are held before
they are handed over, its channels are caught up from history past their cursor, and the held
messages follow (the same hold, catch-up, release as above, for those channels only).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from errbot_pubnub import connection_state as states
from errbot_pubnub import refusals
from errbot_pubnub.catch_up import CatchUp, CatchUpReport, is_transient
from errbot_pubnub.delivery import DeliveryTracker
from errbot_pubnub.history import HistoryDisabled, HistoryReader
from errbot_pubnub.inbound import InboundPipeline
from errbot_pubnub.retry import Backoff
from errbot_pubnub.sdk import (
    Client,
    PNStatus,
    SubscriptionListener,
    install_surviving_worker,
    stop_client,
    watch_full_answers,
)
from errbot_pubnub.subscription_notices import (
    Outage,
    skipped_text,
    tell_access_denied,
    tell_catch_up_refused,
    tell_history_disabled,
    tell_history_unreadable,
)
from errbot_pubnub.subscription_outcomes import (
    STOPPED,
    Ending,
    Health,
    History,
    HistoryRead,
    Read,
)
from errbot_pubnub.subscription_session import SubscriptionSession

if TYPE_CHECKING:
    from errbot_pubnub.settings import PubNubSettings

log = logging.getLogger(__name__)

RECONNECT_BASE_DELAY = 0.5
CATCH_UP_BACKOFF = Backoff(base=0.5, cap=15.0)
CATCH_UP_NOTICE_AFTER = 3  # failed catch-up attempts before admins are told
CAPACITY_CHECK_INTERVAL = 300.0
FLUSH_BEFORE_HANDOVER = 5.0  # seconds a group given up waits for its messages to be handled
TICKS_PER_SECOND = 10_000_000


class SubscriptionSupervisor:
    """Owns the subscribing SDK clients; see the module docstring for the cycle."""

    def __init__(
        self,
        *,
        settings: PubNubSettings,
        make_client: Callable[[], Client],
        pubnub: Client,
        pipeline: InboundPipeline,
        tracker: DeliveryTracker,
        list_groups: Callable[[], dict[str, list[str]]],
        health: Health,
    ) -> None:
        """``make_client`` makes each subscribing client; ``pubnub`` (which never subscribes)
        reads the server time and history. With ``PUBNUB_SHARE_GROUPS`` it subscribes to no
        group until :meth:`set_groups` gives it its share."""
        self._make_client = make_client
        self._shared = settings.share_groups
        self._groups = [] if self._shared else list(settings.channel_groups)
        self._pipeline = pipeline
        self._tracker = tracker
        self._server_time = HistoryReader(pubnub).server_time
        self._list_groups = list_groups
        self._capacity = health.capacity
        self._notices = health.notices
        self._connection = health.connection
        self._on_denied = health.on_denied
        self._first_start_catch_up = settings.first_start_catch_up
        self._access_retry_interval = settings.access_retry_interval
        reconnect_max_delay = settings.reconnect_max_delay
        self._backoff = Backoff(
            base=min(RECONNECT_BASE_DELAY, reconnect_max_delay), cap=reconnect_max_delay
        )
        self._stop = threading.Event()
        self._catch_up = CatchUp(
            pubnub=pubnub,
            tracker=tracker,
            deliver=pipeline.accept_caught_up,
            list_groups=self._held_channels,
            stopping=self._interrupted,
        )
        self._changed = threading.Condition()
        self._session: SubscriptionSession | None = None
        self._sessions = 0
        self._activated = threading.Event()
        self.connected_once = threading.Event()
        self.fatal: str | None = None
        self.history = History.UNKNOWN
        self.last_catch_up: CatchUpReport | None = None
        self.reconnections = 0
        self.full_answer_catch_ups = 0  # catch-ups of the channels of full live answers
        self._thread = threading.Thread(target=self._run, name="pubnub-subscription", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def activate(self) -> None:
        """Plugins are active: caught-up and live messages may now be delivered."""
        self._activated.set()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("The PubNub subscription thread is still busy after %.0f s", timeout)
        self._drop_session()

    def follow(self, group: str) -> None:
        """Subscribe to ``group`` as well: the subscription starts again (and catches up)."""
        with self._changed:
            if group in self._groups:
                return
            self._groups.append(group)
            session = self._session
            if session is not None:
                session.end(f"following the new channel group {group}")
            self._changed.notify_all()

    def set_groups(self, added: frozenset[str], removed: frozenset[str]) -> None:
        """Subscribe to ``added`` as well and no longer to ``removed``: the subscription
        starts again (catching ``added`` up from the shared cursors). ``removed`` is
        unsubscribed, and what was received handled and recorded, before this returns."""
        with self._changed:
            kept = [group for group in self._groups if group not in removed]
            groups = kept + sorted(added - set(kept))
            if groups == self._groups:
                return
            self._groups = groups
            session = self._session
            if session is not None:
                session.end("the channel groups held changed", regrouped=True)
                if removed:
                    self._session = None  # let go of here, before returning
            self._changed.notify_all()
        log.info(
            "Channel groups held: %s (taken: %s; given up: %s)",
            ", ".join(groups) or "none",
            ", ".join(sorted(added)) or "none",
            ", ".join(sorted(removed)) or "none",
        )
        if session is not None and removed:
            stop_client(session.client)
            # What was received is handled and recorded first, so the next holder, which
            # resumes after the recorded cursors, does not deliver it again.
            idle = self._pipeline.wait_idle(FLUSH_BEFORE_HANDOVER)
            if not (idle and self._tracker.flush(FLUSH_BEFORE_HANDOVER)):
                log.warning(
                    "Handing over %s before every message received was handled and recorded: "
                    "the next holder may deliver those again",
                    ", ".join(sorted(removed)),
                )

    def groups(self) -> list[str]:
        """The channel groups subscribed to (or about to be)."""
        with self._changed:
            return list(self._groups)

    def _interrupted(self) -> bool:
        """Whether a catch-up under way should stop: the bot stops, or its subscription ended
        (the groups held changed: a group given up must not be read any further)."""
        session = self._session
        return self._stop.is_set() or session is None or session.failed

    def _held_channels(self) -> dict[str, list[str]]:
        """The channels of the groups subscribed to: catch-up reads only these."""
        session = self._session
        held = set(session.groups if session is not None else self.groups())
        return {group: chans for group, chans in self._list_groups().items() if group in held}

    # --- SDK statuses (on SDK threads: record, wake the supervisor, never block) --------------

    def _on_status(self, number: int, status: PNStatus) -> None:
        with self._changed:
            session = self._session
            if session is None or session.number != number:
                return  # a client already let go of
            if session.note(status):
                self._changed.notify_all()

    def _on_full_answer(self, number: int, channels: dict[str, str | None]) -> None:
        """Before a full answer's messages are handed over: hold them, note the channels."""
        with self._changed:
            session = self._session
            if session is None or session.number != number:
                return
            self._pipeline.hold()
            session.full_answers.update(channels)
            self._changed.notify_all()

    # --- the supervisor's cycle ---------------------------------------------------------------

    def _run(self) -> None:
        outage = Outage()
        while not self._stop.is_set():
            try:
                ending = self._subscription_life() if self.groups() else self._hold_nothing()
            except Exception as exc:  # a bug must not end subscribing for good
                log.exception("The PubNub subscription failed unexpectedly")
                ending = Ending(f"unexpected error: {type(exc).__name__}: {exc}")
            self._drop_session()
            if self._stop.is_set() or self.fatal:
                return
            if ending.regrouped:
                outage.over()
                continue
            if ending.was_live:
                outage.over()
            failures = outage.failed()
            reason = ending.reason
            if ending.access_denied:
                delay = self._access_retry_interval
            else:
                delay = self._backoff.delay(failures)
                self._connection.set(states.RECONNECTING, reason)
            log.warning("PubNub subscription: %s; subscribing again in %.1f s", reason, delay)
            outage.tell_if_long(self._notices, reason)
            self._stop.wait(delay)
            self.reconnections += 1

    def _subscription_life(self) -> Ending:
        """One subscription, from the server time to its end."""
        self._pipeline.hold()
        try:
            until = self._server_time()
        except Exception as exc:
            return Ending(f"PubNub cannot be reached: {refusals.reason(exc)}")
        session = self._subscribe()
        with self._changed:
            self._changed.wait_for(
                lambda: session.connected or session.failed or self._stop.is_set()
            )
        if self._stop.is_set():
            return STOPPED
        if session.failed:
            return self._failure(session)
        log.info("Subscribed to channel group(s) %s", ", ".join(self.groups()))
        self._connection.set(states.CONNECTED, "catching up from history")
        self.connected_once.set()
        while not self._activated.wait(0.5):
            if self._stop.is_set():
                return STOPPED
        released = self._release(session) if self._catch_up_until(until, session) else None
        if released is None:
            return STOPPED if self._stop.is_set() else self._failure(session)
        self._connection.set(states.CONNECTED)
        log.info("Live: %d message(s) received during catch-up follow", released)
        ending = self._live(session)
        return Ending(
            ending.reason,
            was_live=True,
            access_denied=ending.access_denied,
            regrouped=ending.regrouped,
        )

    def _hold_nothing(self) -> Ending:
        """No channel group is this instance's share: connected to nothing until one is."""
        if self._stop.is_set():
            return STOPPED
        self._connection.set(states.CONNECTED, "holding no channel group")
        self.connected_once.set()
        with self._changed:
            self._changed.wait_for(lambda: bool(self._groups) or self._stop.is_set())
        if self._stop.is_set():
            return STOPPED
        return Ending("the channel groups held changed", regrouped=True)

    def _live(self, session: SubscriptionSession) -> Ending:
        """Wait for the subscription to end, catching up after full answers and checking the
        groups' sizes now and then."""
        next_check = time.monotonic() + CAPACITY_CHECK_INTERVAL
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: session.failed or self._stop.is_set() or bool(session.full_answers),
                    timeout=max(0.0, next_check - time.monotonic()),
                )
            if self._stop.is_set():
                return STOPPED
            if session.failed:
                return self._failure(session)
            if session.full_answers:
                self._release(session)
            elif time.monotonic() >= next_check:
                next_check = time.monotonic() + CAPACITY_CHECK_INTERVAL
                self._check_capacity()

    def _release(self, session: SubscriptionSession) -> int | None:
        """Release the held live messages once the channels of full answers are caught up;
        how many were released, or None if the subscription failed or the bot stops first
        (they then wait for the next subscription's catch-up)."""
        while True:
            with self._changed:  # a full answer arriving now is noted before we release
                channels, session.full_answers = session.full_answers, {}
                if not channels:
                    return self._pipeline.release()
            self.full_answer_catch_ups += 1
            if self.history is History.DISABLED:
                log.warning(
                    "A full live answer on %s: older messages may have been lost, and this "
                    "keyset has no history to recover them from",
                    ", ".join(sorted(channels)),
                )
                continue
            read = self._read_history(
                session, session.since, partial(self._catch_up.channels, channels, session.since)
            )
            if read.outcome is Read.INTERRUPTED:
                return None
            report = read.report
            if report is not None:
                log.info("Caught up after a full live answer: %s", report.summary())
                if report.skipped:
                    tell_catch_up_refused(
                        self._notices,
                        skipped_text(report.skipped),
                        session.since,
                        channels=sorted(report.skipped),
                    )

    def _subscribe(self) -> SubscriptionSession:
        client = self._make_client()
        with self._changed:
            self._sessions += 1
            session = SubscriptionSession(self._sessions, client, groups=list(self._groups))
            self._session = session
        number = session.number
        install_surviving_worker(client, self._pipeline.accept)
        watch_full_answers(client, lambda channels: self._on_full_answer(number, channels))
        client.subscribe_to_groups(
            session.groups,
            SubscriptionListener(self._pipeline.accept, lambda s: self._on_status(number, s)),
        )
        return session

    def _failure(self, session: SubscriptionSession) -> Ending:
        """Why ``session`` failed, after dealing with a 403 or a key PubNub does not know."""
        if session.regrouped:
            return Ending(session.detail, regrouped=True)
        if session.wrong_key is not None:
            sentence = refusals.wrong_key_sentence("subscribe_key", session.wrong_key)
            self._connection.set(states.ACCESS_DENIED, refusals.reason(session.wrong_key))
            if not self.connected_once.is_set():
                self.fatal = sentence
                return Ending(f"{states.ACCESS_DENIED} at start", access_denied=True)
            log.error("%s", sentence)
            self._notices.notify("access denied", sentence)
            reason = f"{states.ACCESS_DENIED}: {refusals.reason(session.wrong_key)}"
            return Ending(reason, access_denied=True)
        if session.denied is not None:
            sentence = self._on_denied(session.denied)
            if not self.connected_once.is_set():  # never connected: a configuration problem
                self._connection.set(states.ACCESS_DENIED, refusals.reason(session.denied))
                self.fatal = sentence
                return Ending(f"{states.ACCESS_DENIED} at start", access_denied=True)
            self._connection.set(states.ACCESS_DENIED, refusals.reason(session.denied))
            log.error("%s", sentence)
            tell_access_denied(self._notices, sentence, self._access_retry_interval)
            reason = f"{states.ACCESS_DENIED}: {refusals.reason(session.denied)}"
            return Ending(reason, access_denied=True)
        return Ending(session.detail or "the subscription was lost")

    def _drop_session(self) -> None:
        with self._changed:
            session, self._session = self._session, None
        if session is not None:
            stop_client(session.client)

    # --- catch-up -----------------------------------------------------------------------------

    def _catch_up_until(self, until: int, session: SubscriptionSession) -> bool:
        """Catch up to ``until``; False if the subscription failed or the bot stops first."""
        if self.history is History.DISABLED:
            self._caught_up(until, session)
            return True
        first_start = until - int(self._first_start_catch_up * TICKS_PER_SECOND)
        group_since: dict[str, int] = {}
        if self._shared:  # the groups' last holders may have been other instances
            self._tracker.reload()
            for group in session.groups:
                group_since[group] = self._tracker.resume_timetoken(group) or first_start
        resume = self._tracker.resume_timetoken()
        if resume is None:  # a first start: from now, or as far back as configured
            resume = first_start
        session.since = min([resume, *group_since.values()])
        read = self._read_history(
            session, session.since, lambda: self._catch_up.run(resume, until, group_since)
        )
        if read.outcome is Read.INTERRUPTED or self._interrupted():
            return False  # a catch-up cut short is no resume point
        report = read.report
        if report is None:  # history cannot be read (told already)
            if self.history is History.DISABLED:
                self._caught_up(until, session)
                self._check_capacity()
            return True
        self.history = History.AVAILABLE
        self.last_catch_up = report
        log.info("Caught up from PubNub history: %s", report.summary())
        self._capacity.check(report.groups)
        if report.skipped:
            tell_catch_up_refused(
                self._notices, skipped_text(report.skipped), resume, channels=sorted(report.skipped)
            )
        else:
            self._caught_up(until, session)
        return True

    def _caught_up(self, until: int, session: SubscriptionSession) -> None:
        """``until`` is the new resume point: that of the groups held when they are shared."""
        self._tracker.caught_up(until, session.groups if self._shared else None)

    def _read_history(
        self, session: SubscriptionSession, since: int, read: Callable[[], CatchUpReport]
    ) -> HistoryRead:
        """``read()``, retried with backoff while it fails in a way that may pass."""
        attempt = 0
        while not (self._stop.is_set() or session.failed):
            attempt += 1
            try:
                return HistoryRead(Read.DONE, read())
            except HistoryDisabled:
                self._history_disabled()
                return HistoryRead(Read.IMPOSSIBLE)
            except Exception as exc:
                if not is_transient(exc):
                    tell_catch_up_refused(self._notices, refusals.reason(exc), since)
                    return HistoryRead(Read.IMPOSSIBLE)
                delay = CATCH_UP_BACKOFF.delay(attempt)
                log.warning(
                    "Catching up from PubNub history failed (%s); trying again in %.1f s while "
                    "live messages wait",
                    refusals.reason(exc),
                    delay,
                )
                if attempt == CATCH_UP_NOTICE_AFTER:
                    tell_history_unreadable(self._notices, refusals.reason(exc))
                with self._changed:
                    self._changed.wait_for(
                        lambda: session.failed or self._stop.is_set(), timeout=delay
                    )
        return HistoryRead(Read.INTERRUPTED)

    def _history_disabled(self) -> None:
        self.history = History.DISABLED
        log.error("This PubNub keyset has no Message Persistence: catch-up is impossible.")
        tell_history_disabled(self._notices)

    def _check_capacity(self) -> None:
        try:
            by_group = self._list_groups()
        except Exception as exc:
            log.warning("Cannot list the channel groups to check their size: %s", exc)
            return
        self._capacity.check({group: len(channels) for group, channels in by_group.items()})
