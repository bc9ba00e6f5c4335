"""Fixtures shared by the whole suite.

Everything runs against the installed distribution (``make test`` installs it), so the
tests see exactly what ``pip install`` ships, ``.plug`` files and entry points included.

The local PubNub server and SDK client fixtures (``pubnub_server``, ``pubnub_server_factory``,
``pubnub_client``) come from ``tests/pubnub_fixtures.py``, with the test keyset's keys.
"""

pytest_plugins = ["errbot.backends.test", "tests.pubnub_fixtures"]
