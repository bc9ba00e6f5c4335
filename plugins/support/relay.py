"""Recorded customer messages to their agent room: once each, in order, at the room's pace.

The store is the queue. Taking a customer's message in (recording, acknowledging) never waits
for the agents' network: it hands the message to the relay of its agent room and returns. Each
agent room has a relay of its own, on a thread of its own, that drains the store at the pace of
the room's network, so a slow or broken network holds up its own room only. (While the store
holds nothing older for the room, the relay takes a message as it was handed over instead of
reading it back: most messages never wait.)

What a relay posts is what the network takes: a message too long for one post goes in
pieces, each marked as the continuation of its conversation; on a paced network (IRC, Slack)
the waiting messages of one conversation go out together as one post, and conversations take
turns, a flooding customer at a share of the room. A post the network refuses for what it
holds is cut smaller once, then set aside (the transcript keeps it) with a word to the room and
to the admins; a network that is down is waited for. A message is marked relayed once all of
it was posted, and only then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from errbot_support import formatting
from errbot_support.agent_posts import AgentPosts
from errbot_support.desk import Desk
from errbot_support.floods import FloodWatch
from errbot_support.limits import PostLimits
from errbot_support.literal import carriable
from errbot_support.parts import GROUP_SEPARATOR, grouped, split_post
from errbot_support.presence import RoomPresence
from errbot_support.records import Kind, Pending
from errbot_support.refusals import refused_for_content
from errbot_support.relay_notice_queue import NoticeQueue
from errbot_support.relay_notice_store import NoticeStore
from errbot_support.relay_notices import flooding_notice, set_aside_notice
from errbot_support.relay_settings import (
    FRESH_KEPT,
    PER_CONVERSATION,
    PIECES_PER_TURN,
    RELAY_BATCH,
    REREAD_AFTER,
    SHOWN_KEPT,
    WINDOW,
    Outcome,
    Progress,
    RelaySettings,
)
from errbot_support.routing import AgentRoom, AgentRooms
from errbot_support.turns import Turns

log = logging.getLogger(__name__)


class RoomRelay:
    """Drains the store into one agent room, on a thread of its own."""

    def __init__(
        self,
        room: AgentRoom,
        rooms: AgentRooms,
        desk: Desk,
        posts: AgentPosts,
        settings: RelaySettings,
        *,
        notices: NoticeStore,
    ) -> None:
        self.room = room
        self._rooms = rooms
        self._desk = desk
        self._posts = posts
        self._prefix = settings.prefix
        self._warn_admins = settings.warn_admins
        self._retry = settings.retry_interval
        self._floods = FloodWatch(settings.flood_per_minute)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.idle = threading.Event()  # set while nothing can be posted until woken
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.down = False
        self._presence = RoomPresence(
            room.room, settings.join_as, joins_by_itself=posts.joined_at_connection(room.room)
        )
        self._progress: dict[int, Progress] = {}
        self._alone: set[int] = set()  # entries a refused group left to go on their own
        self._turns = Turns(self._floods)
        self._notices = NoticeQueue(notices, room.key, room)  # posted before anything else
        self._waiters: dict[int, list[Callable[[], None]]] = {}
        # Entries shown (or set aside) lately: for late waiters, and so that a read of the
        # store skips those whose relayed mark is still queued.
        self._shown: dict[int, None] = {}
        # Messages just recorded, handed over as they are (see ``recorded``): taken from here
        # rather than read back while the last look at the store found nothing else waiting.
        self._fresh: list[Pending] = []
        self._synced = False
        self._overflows = 0  # messages not kept in ``_fresh``: only the store has them
        self._read_at = float("-inf")  # the last look at the store
        self._last_refusal: Exception | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Start relaying (again, after a stop: what waits is read from the store first)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._presence.lost()  # the bot may have left the room meanwhile: look again
        with self._lock:
            self._synced = False
            self.idle.clear()
            self._wake.set()
        self._thread = threading.Thread(
            target=self._run, name=f"support-relay-{self.room}", daemon=True
        )
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()
        self.wake()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        with self._lock:
            self.idle.clear()
            self._wake.set()

    def recorded(self, pending: Pending) -> None:
        with self._lock:
            if len(self._fresh) < FRESH_KEPT:
                self._fresh.append(pending)
            else:
                self._overflows += 1
            self.idle.clear()
            self._wake.set()

    def recorded_elsewhere(self) -> None:
        """Another instance recorded a message: only the store has it, so the next look reads
        the store (counted as a message not kept, so a read already under way is not
        enough)."""
        with self._lock:
            self._overflows += 1
            self.idle.clear()
            self._wake.set()

    def tell(
        self, number: int | None, text: str, *, kept: bool = True, source: str | None = None
    ) -> None:
        """Post ``text`` (about conversation ``number``) in turn, from this relay's thread
        (see :meth:`NoticeQueue.add`)."""
        if self._notices.add(number, text, kept=kept, source=source):
            self.wake()

    def room_joined(self) -> None:
        self._presence.asked()  # wait for it rather than asking again
        self.wake()

    def when_shown(self, entry_id: int, then: Callable[[], None]) -> None:
        with self._lock:
            if entry_id not in self._shown:
                self._waiters.setdefault(entry_id, []).append(then)
                return
        then()

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                pause = self._drain()
            except Exception:  # the store failed, or a bug: the messages wait in the store
                log.exception("Relaying to the agent room %s failed; trying again.", self.room)
                pause = self._retry
            with self._lock:
                if not self._wake.is_set():
                    self.idle.set()
            self._wake.wait(pause)
        self.idle.set()

    def _drain(self) -> float:
        """Post all that can go now; returns how long to wait before looking again."""
        limits = self._posts.limits(self.room.room)
        waiting: dict[int, list[Pending]] = {}
        gathered_at = float("-inf")
        while not self._stopping.is_set():
            pause = self._not_ready()
            if pause is not None:
                return pause
            stale = limits.paced and time.monotonic() - gathered_at > REREAD_AFTER
            if stale or not any(waiting.values()):
                waiting, gathered_at = self._gather(waiting), time.monotonic()
                if not waiting and not self._notices:
                    break
                continue  # the notices first
            if not limits.paced:  # no turns to take: everything, oldest first
                if not self._all_of(waiting, limits):
                    break
                continue
            turn = self._turns.next(waiting, limits, self._retry)
            if isinstance(turn, float):
                return turn  # only flooding conversations wait, for their share
            done = self._turn(waiting[turn], limits)
            if done is None:
                break
            self._turns.served(turn)
            del waiting[turn][:done]
            if not waiting[turn]:
                del waiting[turn]
        return self._retry

    def _not_ready(self) -> float | None:
        """How long to wait before posting (the bot is not in the room, a notice could not be
        posted), or None to go on."""
        if not self._ready():
            self._synced = False  # what waits is read from the store once in the room
            joining = self._presence.waiting_for_a_join
            return min(self._retry, 1.0) if joining else self._retry
        if self._notices and self._post_notice() is Outcome.DOWN:
            return self._retry
        return None

    def _all_of(self, waiting: dict[int, list[Pending]], limits: PostLimits) -> bool:
        """Post every waiting message in the order recorded; False if the room went down."""
        ordered = sorted((p for ps in waiting.values() for p in ps), key=lambda p: p.entry.id)
        waiting.clear()
        for pending in ordered:
            if self._pieces_of(pending, limits, at_most=None) is None:
                self._synced = False
                return False
        return True

    def _gather(self, waiting: dict[int, list[Pending]]) -> dict[int, list[Pending]]:
        """What waits now: read from the store, or (while the last read found nothing else)
        the messages just recorded added to ``waiting``."""
        with self._lock:
            fresh, self._fresh = self._fresh, []
            overflows = self._overflows
        poll = time.monotonic() - self._read_at >= self._retry
        if self._synced and not poll and not overflows:
            known = {p.entry.id for ps in waiting.values() for p in ps}
            for pending in fresh:
                if pending.entry.id not in known and pending.entry.id not in self._shown:
                    self._saw(waiting, pending)
            return waiting
        found, self._read_at = self._read(), time.monotonic()
        with self._lock:
            self._overflows -= overflows  # those are in the store, and were read
        if found:
            self._synced = False  # more may wait beyond this read: read again after it
            return found  # the fresh messages are in the store too: read in their turn
        self._synced = True
        for pending in fresh:  # recorded during the read: nothing older waits
            if pending.entry.id not in self._shown:
                self._saw(found, pending)
        return found

    def _saw(self, waiting: dict[int, list[Pending]], pending: Pending) -> None:
        number = pending.conversation.number
        waiting.setdefault(number, []).append(pending)
        if self._floods.saw(number, pending.entry.id):
            self.tell(
                number, flooding_notice(pending.conversation, self._floods.per_minute, self._prefix)
            )

    def _read(self) -> dict[int, list[Pending]]:
        """This room's waiting messages, oldest first, by conversation."""
        found: dict[int, list[Pending]] = {}
        count, after = 0, 0
        while count < WINDOW:
            # Not waiting for queued marks: the messages they are for are in ``_shown``.
            batch = self._desk.unrelayed(RELAY_BATCH, after, PER_CONVERSATION, flush=False)
            for pending in batch:
                if pending.entry.id in self._shown:
                    continue
                if self._rooms.of(pending.conversation) != self.room:
                    continue
                self._saw(found, pending)
                count += 1
            if len(batch) < RELAY_BATCH:
                break
            after = batch[-1].entry.id
        self._floods.settle(set(found))
        self._turns.forget_old()
        self._notices.reload()  # those a crash left
        return found

    # ------------------------------------------------------------------ one turn

    def _turn(self, pending: list[Pending], limits: PostLimits) -> int | None:
        """One conversation's turn: a post (on a paced network) or a whole message. Returns
        how many of its messages are done (shown or set aside), None if the room is down."""
        first = pending[0]
        group = self._group(pending, limits) if limits.paced else [first]
        if len(group) > 1:
            text = grouped([self._text(p, limits) for p in group])
            outcome = self._post(text, first.conversation.number)
            if outcome is Outcome.DOWN:
                return None
            if outcome is Outcome.REFUSED:
                self._alone.update(p.entry.id for p in group)
                return 0
            self._shown_all(group)
            return len(group)
        return self._pieces_of(first, limits, at_most=PIECES_PER_TURN if limits.paced else None)

    def _pieces_of(
        self, pending: Pending, limits: PostLimits, *, at_most: int | None
    ) -> int | None:
        """Post the next pieces of ``pending`` (``at_most`` that many in this turn)."""
        entry, number = pending.entry, pending.conversation.number
        progress = self._progress.get(entry.id)
        if progress is None:
            text = formatting.relay(pending, self._prefix, self._desk.clock())
            progress = Progress(self._posts.pieces(self.room.room, text, number))
            self._progress[entry.id] = progress
        posted = 0
        while progress.posted < len(progress.pieces):
            if at_most is not None and posted == at_most:
                return 0  # the rest at its next turn
            opens = entry.opens_conversation and progress.posted == 0
            outcome = self._post(progress.pieces[progress.posted], number, starts_thread=opens)
            if outcome is Outcome.DOWN:
                return None
            if outcome is Outcome.REFUSED:
                if progress.cut_smaller:
                    self._set_aside(pending)
                    return 1
                self._cut_smaller(progress, limits, number)
                continue
            progress.posted += 1
            posted += 1
        self._shown_all([pending])
        return 1

    def _group(self, pending: list[Pending], limits: PostLimits) -> list[Pending]:
        """The first waiting messages of a conversation that fit one post together."""
        group: list[Pending] = []
        texts: list[str] = []
        for item in pending:
            if not self._groupable(item):
                break
            text = self._text(item, limits)
            if group and limits.measure(grouped([*texts, text])) > limits.size:
                break
            group.append(item)
            texts.append(text)
            if limits.measure(text) > limits.size:
                break  # too long even alone: it goes in pieces
        return group or pending[:1]

    def _groupable(self, pending: Pending) -> bool:
        entry = pending.entry
        return (
            entry.kind is Kind.CUSTOMER
            and not entry.opens_conversation
            and entry.id not in self._progress
            and entry.id not in self._alone
        )

    def _text(self, pending: Pending, limits: PostLimits) -> str:
        """One message as a group shows it: its usual text, on one line where lines are
        posts of their own."""
        text = carriable(formatting.relay(pending, self._prefix, self._desk.clock()))
        return GROUP_SEPARATOR.join(text.split("\n")) if limits.per_line else text

    def _cut_smaller(self, progress: Progress, limits: PostLimits, number: int) -> None:
        """The network refused a piece it should take: cut that piece in halves' size."""
        smaller = replace(limits, size=max(1, limits.size // 2))
        refused = progress.pieces[progress.posted]
        progress.pieces[progress.posted : progress.posted + 1] = split_post(
            refused, smaller, number
        )
        progress.cut_smaller = True

    # ------------------------------------------------------------------ posting

    def _post(self, text: str, number: int | None, *, starts_thread: bool = False) -> Outcome:
        try:
            self._posts.post_piece(self.room.room, text, number, starts_thread=starts_thread)
        except Exception as exc:
            if refused_for_content(exc):
                log.warning("The agent room %s refused a post (%s).", self.room, exc)
                self._last_refusal = exc
                return Outcome.REFUSED
            self._unreachable(exc)
            return Outcome.DOWN
        if self.down:
            self.down = False
            log.info("The agent room %s is reachable again.", self.room)
        return Outcome.POSTED

    def _post_notice(self) -> Outcome:
        notice = self._notices.first()
        for piece in self._posts.pieces(self.room.room, notice.text, notice.number):
            outcome = self._post(piece, notice.number)
            if outcome is Outcome.DOWN:
                return outcome
        self._notices.posted()
        return Outcome.POSTED

    def _shown_all(self, shown: list[Pending]) -> None:
        for pending in shown:
            self._progress.pop(pending.entry.id, None)
            self._alone.discard(pending.entry.id)
        self._desk.mark_relayed(*(p.entry for p in shown))
        self._tell_waiters([p.entry.id for p in shown])

    def _set_aside(self, pending: Pending) -> None:
        """A message the network refuses even in smaller pieces: the transcript has it."""
        entry, number = pending.entry, pending.conversation.number
        self._progress.pop(entry.id, None)
        self._alone.discard(entry.id)
        self._desk.set_aside(entry)
        reason = self._last_refusal
        text = set_aside_notice(number, self._prefix)
        self.tell(number, text)
        log.warning("Message %d of #%d set aside in %s: %s", entry.id, number, self.room, reason)
        try:
            self._warn_admins(f"Support: {text} ({self.room} refused it: {reason})")
        except Exception:
            log.exception("Could not tell the admins either.")
        self._tell_waiters([entry.id])

    def _tell_waiters(self, entry_ids: list[int]) -> None:
        called = []
        with self._lock:
            for entry_id in entry_ids:
                self._shown[entry_id] = None
                called += self._waiters.pop(entry_id, [])
            while len(self._shown) > SHOWN_KEPT:
                del self._shown[next(iter(self._shown))]
        for then in called:
            then()

    # ------------------------------------------------------------------ the room

    def _ready(self) -> bool:
        try:
            return self._presence.ready()
        except Exception as exc:  # the network cannot even be asked
            self._unreachable(exc)
            return False

    def _unreachable(self, exc: Exception) -> None:
        self._presence.lost()
        self._synced = False  # what waits is read from the store when the room is back
        if self.down:
            return
        self.down = True
        log.warning(
            "Cannot post to the agent room %s (%s); customer messages are kept and will "
            "be relayed when it is back.",
            self.room,
            exc,
        )
        try:
            self._warn_admins(
                f"Support: the agent room {self.room} is unreachable ({exc}); customer "
                "messages are kept and will be relayed when it is back."
            )
        except Exception:
            log.exception("Could not tell the admins either.")
