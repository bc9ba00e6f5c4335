"""``python -m benchmarks.stop_stress [RUNS]``: stop SDK clients with a long-poll in flight, again
and again, and count what any of them left behind.

Each run starts a client on the local PubNub server, subscribes (a handshake, a long-poll from
a given timetoken at once, or a channel group), waits a random moment (from a fraction of a
millisecond to 50 ms, so the stop lands before, during and after the connection) and stops it
as the backend does. Then it checks the client's promise: no thread of it left, no socket open,
no long-poll left waiting on the server. The race this catches is rare by nature (a long-poll
connecting just after the stop); the suite's tests hold each window open deterministically,
this finds the windows nobody thought of. Exits 1 if any run left something.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import Counter

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import PNConfiguration, SubscriptionListener, new_client, stop_client

KEYS = {"publish_key": "pub-c-stress", "subscribe_key": "sub-c-stress"}
SETTLE = 5.0  # seconds a stopped client's threads and long-poll get to end
KINDS = ("handshake", "timetoken", "group")


def config(server: PubNubEmulator, user_id: str) -> PNConfiguration:
    made = PNConfiguration()
    made.origin = server.origin
    made.ssl = False
    made.daemon = True
    made.publish_key = KEYS["publish_key"]
    made.subscribe_key = KEYS["subscribe_key"]
    made.user_id = user_id
    made.disable_config_locking = False
    return made


def left_behind(server: PubNubEmulator, before: set[threading.Thread], client: object) -> str:
    """What the stopped ``client`` left, once it has had :data:`SETTLE` seconds to end."""
    deadline = time.monotonic() + SETTLE
    while True:
        threads = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
        sockets = client.get_request_handler().backend.open_sockets()  # type: ignore[attr-defined]
        polls = server.subscribers()
        if not (threads or sockets or polls) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    found = []
    if threads:
        found.append(f"threads {sorted(threads)}")
    if sockets:
        found.append(f"{sockets} open socket(s)")
    if polls:
        found.append(f"{len(polls)} long-poll(s) on the server")
    return ", ".join(found)


def run(runs: int) -> Counter[str]:
    server = PubNubEmulator(**KEYS).start()
    problems: Counter[str] = Counter()
    try:
        for number in range(runs):
            before = set(threading.enumerate())
            client = new_client(config(server, f"stress-{number}"))
            kind = random.choice(KINDS)
            client.add_listener(SubscriptionListener(lambda _: None, lambda _: None))
            subscribe = client.subscribe()
            if kind == "group":
                subscribe.channel_groups(["stress"]).execute()
            elif kind == "timetoken":  # straight to a long-poll, no handshake first
                subscribe.channels([f"c{number}"]).with_timetoken(time.time_ns() // 100).execute()
            else:
                subscribe.channels([f"c{number}"]).execute()
            time.sleep(random.random() * random.choice((0.0005, 0.002, 0.01, 0.05)))
            stop_client(client)
            left = left_behind(server, before, client)
            if left:
                problems[f"{kind}: {left}"] += 1
                print(f"run {number} ({kind}) left {left}", file=sys.stderr)
    finally:
        server.stop()
    return problems


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    started = time.monotonic()
    problems = run(runs)
    print(f"{runs} clients stopped in {time.monotonic() - started:.0f} s; ", end="")
    print(f"{sum(problems.values())} left something behind")
    for what, count in problems.most_common():
        print(f"  {count} x {what}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
