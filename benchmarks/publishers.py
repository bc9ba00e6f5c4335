"""The customers: official SDK clients publishing from a process of their own.

On two cores everything competes for CPU. Publishing from the measuring process would make the
subscriber (or the bot) share its interpreter lock with the publishers, so the customers live
in a separate process, driven over a pipe, and the very same process and threads publish for the
ceiling and for the relay. Each publisher thread has its own SDK client (its own connection);
its index is the ``publisher`` of the messages' marks, and its messages on one channel are
published one after the other, so their order on arrival can be checked.

Each channel is one customer's chat, and only that customer writes there, whichever thread
publishes: the channel at position ``p`` of a list is customer ``p % threads``'s (as ``each``
opens them), and every thread has a client of its own for each customer. A message in someone
else's chat is not the customer's words: the bot reports it to the agents instead.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pubnub.exceptions import PubNubException
from pubnub.pubnub import PubNub

from benchmarks import sdk
from benchmarks.marks import Raw, mark

CUSTOMER = "customer-{}"
ROOT = Path(__file__).resolve().parent.parent  # where ``benchmarks`` is importable from


def payload(text: str) -> dict[str, str]:
    """What a customer app publishes (the default converter's format)."""
    return {"kind": "from_customer", "time": datetime.now(timezone.utc).isoformat(), "text": text}


class Customers:
    """The publishing side, living in the customers' process."""

    def __init__(self, origin: str, threads: int) -> None:
        self.origin = origin
        self.clients = [sdk.client(origin, CUSTOMER.format(n)) for n in range(threads)]
        # as_customer[thread][customer]: the thread's own client for that customer.
        self.as_customer = [
            [
                self.clients[n] if n == thread else sdk.client(origin, CUSTOMER.format(n))
                for n in range(threads)
            ]
            for thread in range(threads)
        ]
        self.listener: PubNub | None = None
        self.recorder: sdk.Recorder | None = None

    def close(self) -> None:
        own = [c for clients in self.as_customer for c in clients]
        for pubnub in [*own, *([self.listener] if self.listener else [])]:
            sdk.stop(pubnub)

    def _customer_of(self, index: int, position: int) -> PubNub:
        """Thread ``index``'s client for the customer of the channel at ``position``."""
        return self.as_customer[index][position % len(self.clients)]

    # --- publishing -------------------------------------------------------------------------

    def _publish(
        self, index: int, channel: str, tag: str, seq: int, client: PubNub | None = None
    ) -> bool:
        message = payload(mark(tag, index, seq))
        try:
            (client or self.clients[index]).publish().channel(channel).message(message).sync()
        except PubNubException:
            return False
        return True

    def _in_threads(self, work: Callable[[int], dict[str, int]]) -> dict[str, Any]:
        results: list[dict[str, int]] = [{} for _ in self.clients]

        def run(index: int) -> None:
            results[index] = work(index)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(len(self.clients))]
        started = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        published = sum(r.get("published", 0) for r in results)
        failed = sum(r.get("failed", 0) for r in results)
        return {"published": published, "failed": failed, "started": started, "ended": time.time()}

    def each(self, channels: list[str], tag: str, per_channel: int = 1) -> dict[str, Any]:
        """``per_channel`` messages in every channel, in order, channels shared among threads."""

        def work(index: int) -> dict[str, int]:
            done = {"published": 0, "failed": 0}
            mine = channels[index :: len(self.clients)]
            for seq in range(per_channel):
                for channel in mine:
                    ok = self._publish(index, channel, tag, seq)
                    done["published" if ok else "failed"] += 1
            return done

        return self._in_threads(work)

    def flood(
        self, channels: list[str], seconds: float, tag: str, user_id: str | None = None
    ) -> dict[str, Any]:
        """Publish as fast as the threads can for ``seconds``, round-robin over ``channels``
        (all as the one customer ``user_id`` if given: each thread a device of theirs)."""
        devices = [sdk.client(self.origin, user_id) for _ in self.clients] if user_id else None
        deadline = time.monotonic() + seconds

        def work(index: int) -> dict[str, int]:
            done = {"published": 0, "failed": 0}
            position, seq = index, 0
            while time.monotonic() < deadline:
                at = position % len(channels)
                client = devices[index] if devices else self._customer_of(index, at)
                channel = channels[at]
                ok = self._publish(index, channel, tag, seq, client)
                done["published" if ok else "failed"] += 1
                position += len(self.clients)
                seq += 1
            return done

        try:
            return self._in_threads(work)
        finally:
            for device in devices or ():
                sdk.stop(device)

    def paced(self, channels: list[str], rate: float, count: int, tag: str) -> dict[str, Any]:
        """``count`` messages at ``rate`` per second: a schedule, and threads that publish each
        message when it is due (several, so one slow publish does not delay the next)."""
        due: queue.Queue[tuple[float, int] | None] = queue.Queue()
        start = time.monotonic() + 0.05
        for n in range(count):
            due.put((start + n / rate, n))
        for _ in self.clients:
            due.put(None)
        late = [0.0 for _ in self.clients]

        def work(index: int) -> dict[str, int]:
            done = {"published": 0, "failed": 0}
            while (job := due.get()) is not None:
                when, n = job
                wait = when - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    late[index] = max(late[index], -wait)
                at = n % len(channels)
                ok = self._publish(index, channels[at], tag, n, self._customer_of(index, at))
                done["published" if ok else "failed"] += 1
            return done

        result = self._in_threads(work)
        result["most_late_ms"] = round(max(late) * 1000, 1)
        return result

    # --- listening (replies reach customers) --------------------------------------------------

    def listen(self, groups: list[str]) -> dict[str, Any]:
        """Subscribe to ``groups`` as a customer device would, keeping the support side's
        messages only."""
        self.listener = sdk.client(self.origin, "customer-devices")
        self.recorder = sdk.Recorder(publisher=sdk.SUPPORT_USER)
        sdk.subscribe(self.listener, self.recorder, groups=groups)
        return {}

    def heard(self) -> list[Raw]:
        """What the support side published to customers since the last call."""
        assert self.recorder is not None
        return self.recorder.take()

    def heard_count(self, tag: str | None = None) -> int:
        assert self.recorder is not None
        return self.recorder.count(tag)

    def unlisten(self) -> dict[str, Any]:
        if self.listener is not None:
            sdk.stop(self.listener)
        self.listener = self.recorder = None
        return {}


def main() -> None:
    """The customers' process: one JSON request a line on stdin, one JSON answer on stdout."""
    origin, threads = sys.argv[1], int(sys.argv[2])
    customers = Customers(origin, threads)
    answer = sys.stdout
    print(json.dumps("ready"), file=answer, flush=True)
    try:
        for line in sys.stdin:
            name, arguments = json.loads(line)
            try:
                reply = ["ok", getattr(customers, name)(**arguments)]
            except Exception as exc:  # reported to the harness, which stops
                reply = ["error", f"{type(exc).__name__}: {exc}"]
            print(json.dumps(reply), file=answer, flush=True)
    finally:
        customers.close()


class CustomersProcess:
    """Runs :class:`Customers` in a separate process; each method call goes over a pipe."""

    def __init__(self, origin: str, threads: int, log_file: Path) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        self._log = log_file.open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.publishers", origin, str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        self.pid = self._process.pid
        if self._read() != "ready":
            raise RuntimeError(f"the customers' process did not start; see {log_file}")

    def _read(self) -> Any:
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the customers' process ended")
        return json.loads(line)

    def call(self, name: str, **arguments: Any) -> Any:
        self._process.stdin.write(json.dumps([name, arguments]) + "\n")
        self._process.stdin.flush()
        status, value = self._read()
        if status != "ok":
            raise RuntimeError(f"customers' process: {name} failed: {value}")
        return value

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._process.stdin.close()
                self._process.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(5)
        self._log.close()


if __name__ == "__main__":
    main()
