"""A PubNub-compatible server for tests, demos and benchmarks.

No machine running this project's tests can reach PubNub, so this server speaks the part of
PubNub's REST protocol that the official SDKs (Python 10.x, threaded and asyncio clients;
JavaScript 12 and the Chat SDK, in Node or a browser) use for a support chat: publish/subscribe,
channel groups, Message Persistence, presence basics, Access Manager, App Context (users,
channels, memberships) and message actions, with CORS for web pages; and it lets tests break
the network on purpose.

In a test or a script::

    from errbot_pubnub.emulator import PubNubEmulator

    with PubNubEmulator(publish_key="pub-c-test", subscribe_key="sub-c-test") as server:
        config = PNConfiguration()
        config.origin = server.origin          # "127.0.0.1:PORT"
        config.ssl = False
        ...

From a shell: ``python -m errbot_pubnub.emulator --port 8090`` (or ``errbot-pubnub-emulator``).

``PubNubEmulator(host="127.0.0.1", port=0, *, secret_key=None, publish_key=None,
subscribe_key=None, group_capacity=2000, retention=1000, subscribe_timeout=280.0,
catchup_size=100, catchup_seconds=1200.0, max_message_size=32768, max_signal_size=64,
message_persistence=True)``

- ``start()`` / ``stop()`` (or ``with``): serve on a background thread with its own event
  loop; ``start()`` returns once listening. ``port``, ``origin``, ``url``, ``running``.
- ``faults``: :class:`Faults` with ``fail_next(count=1, status=500, *, operation=None,
  path_prefix=None, message=None)``, ``drop_next(count=1, *, operation=None,
  path_prefix=None, after_handling=False)``, ``set_latency(seconds, *, operation=None)``,
  ``clear()``, ``pending()``. Operation names are listed in ``OPERATIONS``.
- ``go_down(*, refuse_connections=True, seconds=None)`` / ``come_back()`` / ``is_down``:
  waiting long-polls and new requests lose their connection, the port optionally refuses
  connections; state is kept.
- Inspection: ``published(channel)`` (:class:`PublishedMessage` list: message, timetoken,
  publisher, meta, stored, signal), ``history(channel)``, ``channels_in_group(group)``,
  ``groups()``, ``here_now(channel)``, ``subscribers()``, ``wait_for_subscriber(user_id=None,
  *, channel=None, group=None, timeout=10.0)``, ``request_count(operation=None)``. Each takes
  ``subscribe_key=`` when more than one keyset is in use.
- Direct actions: ``publish(channel, message, *, publisher=None, meta=None, store=True,
  signal=False)`` -> timetoken, ``add_channels_to_group(group, channels)``,
  ``issue_token(grant)`` (with a secret key).

The same controls are served over HTTP under ``/_emulator/`` (see ``control_routes``) and
driven from another process with :class:`RemoteEmulator`.

Limits (defaults as PubNub's): 32 KiB per message, 64 bytes per signal, 2,000 channels per
group, 100 messages per history call for one channel and 25 for several, at most 100
messages per subscribe answer, live catch-up of the last 100 messages per channel younger
than 20 minutes; ``retention`` messages kept per channel. With ``message_persistence=False``
the keyset has no Message Persistence: nothing is stored and history calls answer PubNub's 403.
"""

from errbot_pubnub.emulator.faults import OPERATIONS, Faults
from errbot_pubnub.emulator.remote import RemoteEmulator
from errbot_pubnub.emulator.server import PubNubEmulator
from errbot_pubnub.emulator.state import PublishedMessage
from errbot_pubnub.emulator.timetokens import datetime_to_timetoken, timetoken_to_datetime

__all__ = [
    "OPERATIONS",
    "Faults",
    "PubNubEmulator",
    "PublishedMessage",
    "RemoteEmulator",
    "datetime_to_timetoken",
    "timetoken_to_datetime",
]
