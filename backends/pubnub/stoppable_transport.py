"""An HTTP transport that can be stopped for good: after ``stop()`` no socket stays open and
none is opened again.

Closing an ``httpx.Client`` does not stop a request that already took it: a thread descheduled
between taking the client and connecting connects after the close all the same, and a subscribe
long-poll then waits minutes for the server's answer. Here every socket is opened through one
network backend, which records it under a lock and refuses to open any after ``stop()``; the
stop shuts down every socket it recorded (closing alone does not wake a thread blocked reading
one). A connection is therefore either recorded before the stop, and shut down by it, or refused.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

STOPPED = "the client was stopped"


class StoppableBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, with every socket recorded and a stop for all of them."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()
        self._lock = threading.Lock()
        self._streams: set[httpcore.NetworkStream] = set()
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self._refuse_if_stopped()
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return self._record(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        self._refuse_if_stopped()
        return self._record(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)

    def stop(self) -> None:
        """Refuse every later connection and wake every thread reading or writing a socket."""
        with self._lock:
            self._stopped = True
            streams, self._streams = list(self._streams), set()
        for stream in streams:
            _shut_down(stream)

    def open_sockets(self) -> int:
        """How many recorded sockets are still open (for tests and diagnostics)."""
        with self._lock:
            return sum(1 for s in self._streams if _socket(s).fileno() != -1)

    def _refuse_if_stopped(self) -> None:
        if self._stopped:
            raise httpcore.ConnectError(STOPPED)

    def _record(self, stream: httpcore.NetworkStream) -> httpcore.NetworkStream:
        with self._lock:
            if not self._stopped:
                self._streams.add(stream)
                return _Forgotten(stream, self)
        _shut_down(stream)  # connected while the stop ran: it never serves a request
        raise httpcore.ConnectError(STOPPED)

    def forget(self, stream: httpcore.NetworkStream) -> None:
        """Drop ``stream`` from the record: httpcore closed it."""
        with self._lock:
            self._streams.discard(stream)


class _Forgotten(httpcore.NetworkStream):
    """A recorded stream that leaves the record when httpcore closes it."""

    def __init__(
        self,
        stream: httpcore.NetworkStream,
        backend: StoppableBackend,
        recorded: httpcore.NetworkStream | None = None,
    ) -> None:
        self._stream = stream
        self._backend = backend
        self._recorded = recorded or stream  # a TLS stream wraps the recorded plain one

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._backend.forget(self._recorded)
        self._stream.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(*args, **kwargs)
        return _Forgotten(tls, self._backend, self._recorded)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _socket(stream: httpcore.NetworkStream) -> socket.socket:
    return stream.get_extra_info("socket")


def _shut_down(stream: httpcore.NetworkStream) -> None:
    with contextlib.suppress(OSError):  # already closed or never connected
        _socket(stream).shutdown(socket.SHUT_RDWR)
    stream.close()


class StoppableTransport(httpx.HTTPTransport):
    """httpx's transport (HTTP/1.1 and HTTP/2, as the SDK asks) over a :class:`StoppableBackend`."""

    def __init__(self, backend: StoppableBackend) -> None:
        super().__init__(http2=True)
        limits = httpx.Limits()
        # httpx builds its pool without a way to pass a network backend: ours replaces it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=backend,
        )
