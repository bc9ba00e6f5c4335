"""``PubNubEmulator``: the server run on a background thread, with controls for tests.

The aiohttp server gets its own event loop on its own thread, so that synchronous code (an
Errbot bot, the threaded SDK, a pytest test) can start it, talk to it and stop it. Every
inspection and control method hands its work to that loop and waits for the result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web

from errbot_pubnub.emulator.app import build_app
from errbot_pubnub.emulator.context import EmulatorContext, EmulatorSettings
from errbot_pubnub.emulator.faults import Faults
from errbot_pubnub.emulator.state import Keyset, PublishedMessage

log = logging.getLogger("errbot_pubnub.emulator")

T = TypeVar("T")

#: How long a control call waits for the server's loop before giving up.
CONTROL_TIMEOUT = 30.0


class PubNubEmulator:
    """A PubNub-compatible server on ``host:port`` (``port=0`` picks a free port).

    Without ``secret_key`` the keyset is open. With one, requests must be signed with it or
    carry a token it issued (``grant_token``); ``publish_key`` must then be given too, since
    clients sign with it. When ``publish_key``/``subscribe_key`` are given, requests for
    other keys are refused as PubNub refuses unknown keys.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        secret_key: str | None = None,
        publish_key: str | None = None,
        subscribe_key: str | None = None,
        group_capacity: int = EmulatorSettings.group_capacity,
        retention: int = EmulatorSettings.retention,
        subscribe_timeout: float = EmulatorSettings.subscribe_timeout,
        catchup_size: int = EmulatorSettings.catchup_size,
        catchup_seconds: float = EmulatorSettings.catchup_seconds,
        max_message_size: int = EmulatorSettings.max_message_size,
        max_signal_size: int = EmulatorSettings.max_signal_size,
        message_persistence: bool = EmulatorSettings.message_persistence,
    ) -> None:
        self.settings = EmulatorSettings(
            secret_key=secret_key,
            publish_key=publish_key,
            subscribe_key=subscribe_key,
            group_capacity=group_capacity,
            retention=retention,
            subscribe_timeout=subscribe_timeout,
            catchup_size=catchup_size,
            catchup_seconds=catchup_seconds,
            max_message_size=max_message_size,
            max_signal_size=max_signal_size,
            message_persistence=message_persistence,
        )
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._ctx = EmulatorContext(self.settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._stopping: asyncio.Event | None = None
        self._come_back_timer: asyncio.TimerHandle | None = None
        self._come_back_task: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = CONTROL_TIMEOUT) -> PubNubEmulator:
        """Start serving on a background thread; returns once the port is listening."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        started = concurrent.futures.Future[None]()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="pubnub-emulator", daemon=True
        )
        self._thread.start()
        try:
            started.result(timeout)
        except BaseException:
            self._thread.join(timeout)
            self._thread = None
            raise
        log.info("PubNub emulator listening on %s", self.origin)
        return self

    def stop(self, timeout: float = CONTROL_TIMEOUT) -> None:
        """Stop serving: waiting long-polls lose their connection, the port is released."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> PubNubEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, started: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(started))
        except BaseException as error:
            if not started.done():
                started.set_exception(error)
            else:
                log.exception("PubNub emulator stopped on an error")
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _serve(self, started: concurrent.futures.Future[None]) -> None:
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(
            build_app(self._ctx, self),
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=1.0,
        )
        await self._runner.setup()
        try:
            await self._listen(self._requested_port)
            started.set_result(None)
            await self._stopping.wait()
            self._drop_waiting_polls()
        finally:
            await self._runner.cleanup()

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
        await self._site.start()
        self._port = self._runner.addresses[0][1]

    # --- addresses ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def origin(self) -> str:
        """``host:port``, what ``PNConfiguration.origin`` takes (with ``ssl = False``)."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.origin}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    # --- faults ---------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """Failures, dropped connections and latency for the next requests."""
        return self._ctx.faults

    @property
    def is_down(self) -> bool:
        return self._ctx.down

    def go_down(self, *, refuse_connections: bool = True, seconds: float | None = None) -> None:
        """Stop answering: waiting long-polls and every new request lose their connection.

        With ``refuse_connections`` the port is closed too, so new connections are refused.
        State (messages, groups, tokens) is kept. With ``seconds`` the server comes back by
        itself after that long.
        """
        self._in_loop_async(self.go_down_async(refuse_connections, seconds))

    def come_back(self) -> None:
        """Serve again on the same port, with the state the server had."""
        self._in_loop_async(self.come_back_async())

    async def go_down_async(self, refuse_connections: bool, seconds: float | None) -> None:
        self._drop_waiting_polls()
        if refuse_connections and self._site is not None:
            await self._site.stop()
            self._site = None
        if self._come_back_timer is not None:
            self._come_back_timer.cancel()
            self._come_back_timer = None
        if seconds is not None:
            loop = asyncio.get_running_loop()
            self._come_back_timer = loop.call_later(seconds, self._come_back_later)
        log.info("PubNub emulator is down (refusing connections: %s)", refuse_connections)

    def _come_back_later(self) -> None:
        self._come_back_timer = None
        self._come_back_task = asyncio.get_running_loop().create_task(self.come_back_async())

    async def come_back_async(self) -> None:
        if self._come_back_timer is not None:
            self._come_back_timer.cancel()
            self._come_back_timer = None
        if self._site is None:
            await self._listen(self.port)
        self._ctx.down = False
        log.info("PubNub emulator is back on %s", self.origin)

    def _drop_waiting_polls(self) -> None:
        """Mark the server down and wake every long-poll, which then loses its connection."""
        self._ctx.down = True
        for keyset in self._ctx.keysets.values():
            for waiter in keyset.waiters():
                waiter.event.set()

    # --- inspection and direct actions ----------------------------------------------------

    def published(
        self, channel: str, *, subscribe_key: str | None = None
    ) -> list[PublishedMessage]:
        """What was published or signalled on ``channel`` (newest ``retention`` only)."""
        return self._with_keyset(subscribe_key, lambda ks: ks.published(channel), [])

    def history(self, channel: str, *, subscribe_key: str | None = None) -> list[PublishedMessage]:
        """What Message Persistence holds for ``channel``, oldest first."""
        return self._with_keyset(subscribe_key, lambda ks: ks.history(channel), [])

    def channels_in_group(self, group: str, *, subscribe_key: str | None = None) -> list[str]:
        return self._with_keyset(subscribe_key, lambda ks: ks.channels_in(group), [])

    def groups(self, *, subscribe_key: str | None = None) -> list[str]:
        return self._with_keyset(subscribe_key, lambda ks: ks.group_names(), [])

    def here_now(self, channel: str, *, subscribe_key: str | None = None) -> list[str]:
        """User ids present on ``channel``, directly or through a channel group."""

        def occupants(keyset: Keyset) -> list[str]:
            # The event loop's clock is time.monotonic(), the clock presence was stamped with.
            now = time.monotonic()
            return keyset.presence.occupants(channel, keyset.groups_of(channel), now=now)

        return self._with_keyset(subscribe_key, occupants, [])

    def subscribers(self, *, subscribe_key: str | None = None) -> list[dict[str, Any]]:
        """The long-polls waiting now: ``{"user_id", "channels", "groups"}`` each."""

        def waiting(keyset: Keyset) -> list[dict[str, Any]]:
            return [
                {
                    "user_id": w.user_id,
                    "channels": sorted(w.channels),
                    "groups": sorted(w.groups),
                }
                for w in keyset.waiters()
            ]

        return self._with_keyset(subscribe_key, waiting, [])

    def wait_for_subscriber(
        self,
        user_id: str | None = None,
        *,
        channel: str | None = None,
        group: str | None = None,
        timeout: float = 10.0,
        subscribe_key: str | None = None,
    ) -> None:
        """Block until a long-poll matching the arguments is waiting; TimeoutError if not."""
        deadline = time.monotonic() + timeout
        while True:
            for poll in self.subscribers(subscribe_key=subscribe_key):
                if (
                    (user_id is None or poll["user_id"] == user_id)
                    and (channel is None or channel in poll["channels"])
                    and (group is None or group in poll["groups"])
                ):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no subscriber (user_id={user_id!r}, channel={channel!r}, "
                    f"group={group!r}) within {timeout} s"
                )
            time.sleep(0.01)

    def request_count(self, operation: str | None = None) -> int:
        """Requests seen for ``operation`` (all PubNub requests when None), faults included."""
        counts = self._ctx.request_counts
        if operation is None:
            return self._in_loop(lambda: sum(counts.values()))
        return self._in_loop(lambda: counts[operation])

    def publish(
        self,
        channel: str,
        message: Any,
        *,
        publisher: str | None = None,
        meta: dict[str, Any] | None = None,
        store: bool = True,
        signal: bool = False,
        subscribe_key: str | None = None,
    ) -> int:
        """Publish as if a client had; returns the timetoken."""

        def record(keyset: Keyset) -> int:
            published = PublishedMessage(
                channel=channel,
                message=message,
                timetoken=self._ctx.clock.next(),
                publisher=publisher,
                meta=meta,
                stored=store and not signal and self.settings.message_persistence,
                signal=signal,
            )
            keyset.record(published)
            return published.timetoken

        return self._in_loop(lambda: record(self._keyset(subscribe_key, create=True)))

    def add_channels_to_group(
        self, group: str, channels: Iterable[str], *, subscribe_key: str | None = None
    ) -> None:
        """Register channels in a group (the capacity applies)."""
        names = list(channels)
        self._in_loop(lambda: self._keyset(subscribe_key, create=True).add_channels(group, names))

    def issue_token(self, grant: dict[str, Any]) -> str:
        """A token for a grant body as ``grant_token`` sends it; needs a secret key."""
        if self._ctx.tokens is None:
            raise RuntimeError("tokens need a server started with a secret key")
        return self._ctx.tokens.issue(grant)

    # --- plumbing -------------------------------------------------------------------------

    def _keyset(self, subscribe_key: str | None, *, create: bool = False) -> Keyset | None:
        key = subscribe_key or self.settings.subscribe_key
        if key is None:
            keysets = list(self._ctx.keysets)
            if len(keysets) > 1:
                raise ValueError(
                    "several subscribe keys are in use: pass subscribe_key= to choose one"
                )
            if not keysets:
                if create:
                    raise ValueError("no subscribe key in use yet: pass subscribe_key=")
                return None
            key = keysets[0]
        if create:
            return self._ctx.keyset(key)
        return self._ctx.keysets.get(key)

    def _with_keyset(self, subscribe_key: str | None, read: Callable[[Keyset], T], empty: T) -> T:
        def run() -> T:
            keyset = self._keyset(subscribe_key)
            return empty if keyset is None else read(keyset)

        return self._in_loop(run)

    def _in_loop(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the server's loop (state belongs to it) and return its result."""
        loop = self._loop
        if loop is None or threading.current_thread() is self._thread:
            return func()
        result = concurrent.futures.Future[T]()

        def run() -> None:
            try:
                result.set_result(func())
            except BaseException as error:
                result.set_exception(error)

        loop.call_soon_threadsafe(run)
        return result.result(CONTROL_TIMEOUT)

    def _in_loop_async(self, coroutine: Any) -> Any:
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("the server is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(CONTROL_TIMEOUT)
