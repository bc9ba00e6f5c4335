"""``RemoteEmulator``: drive a server running in another process through ``/_emulator/``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class RemoteEmulatorError(RuntimeError):
    """The control route refused the call; the message says why."""


class RemoteEmulator:
    """The fault controls and inspection of a server at ``origin`` (``"host:port"``)."""

    def __init__(self, origin: str, timeout: float = 10.0) -> None:
        self.origin = origin
        self.timeout = timeout

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        operation: str | None = None,
        path_prefix: str | None = None,
        message: str | None = None,
    ) -> None:
        self._call(
            "POST",
            "/faults/fail",
            {
                "count": count,
                "status": status,
                "operation": operation,
                "path_prefix": path_prefix,
                "message": message,
            },
        )

    def drop_next(
        self,
        count: int = 1,
        *,
        operation: str | None = None,
        path_prefix: str | None = None,
        after_handling: bool = False,
    ) -> None:
        self._call(
            "POST",
            "/faults/drop",
            {
                "count": count,
                "operation": operation,
                "path_prefix": path_prefix,
                "after_handling": after_handling,
            },
        )

    def set_latency(self, seconds: float, *, operation: str | None = None) -> None:
        self._call("POST", "/faults/latency", {"seconds": seconds, "operation": operation})

    def hold(self, *, operation: str | None = None) -> None:
        self._call("POST", "/faults/hold", {"operation": operation})

    def release(self, *, operation: str | None = None) -> None:
        self._call("POST", "/faults/release", {"operation": operation})

    def clear_faults(self) -> None:
        self._call("POST", "/faults/clear")

    def go_down(self, *, refuse_connections: bool = False, seconds: float | None = None) -> None:
        """Go down; closing the port needs ``seconds``, since nothing could reopen it."""
        self._call("POST", "/down", {"refuse_connections": refuse_connections, "seconds": seconds})

    def come_back(self) -> None:
        self._call("POST", "/up")

    def published(self, channel: str, *, subscribe_key: str | None = None) -> list[dict]:
        return self._call("GET", self._path("/published/", channel, subscribe_key))

    def history(self, channel: str, *, subscribe_key: str | None = None) -> list[dict]:
        return self._call("GET", self._path("/history/", channel, subscribe_key))

    def groups(self, *, subscribe_key: str | None = None) -> list[str]:
        return self._call("GET", self._path("/groups", "", subscribe_key))

    def channels_in_group(self, group: str, *, subscribe_key: str | None = None) -> list[str]:
        return self._call("GET", self._path("/groups/", group, subscribe_key))

    def here_now(self, channel: str, *, subscribe_key: str | None = None) -> list[str]:
        return self._call("GET", self._path("/here-now/", channel, subscribe_key))

    def subscribers(self, *, subscribe_key: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", self._path("/subscribers", "", subscribe_key))

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
        answer = self._call(
            "POST",
            "/publish",
            {
                "channel": channel,
                "message": message,
                "publisher": publisher,
                "meta": meta,
                "store": store,
                "signal": signal,
                "subscribe_key": subscribe_key,
            },
        )
        return int(answer["timetoken"])

    @staticmethod
    def _path(prefix: str, name: str, subscribe_key: str | None) -> str:
        path = prefix + urllib.parse.quote(name, safe="")
        if subscribe_key:
            path += "?" + urllib.parse.urlencode({"subscribe_key": subscribe_key})
        return path

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.origin}/_emulator{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                reason = json.loads(error.read()).get("error", error.reason)
            except ValueError:
                reason = error.reason
            raise RemoteEmulatorError(f"{method} {path}: {reason}") from None
