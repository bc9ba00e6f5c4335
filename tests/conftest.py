"""Fixtures shared by the whole suite.

Everything runs against the installed distribution (``make test`` installs it), so the
tests see exactly what ``pip install`` ships, ``.plug`` files and entry points included.

The local PubNub server and SDK client fixtures (``pubnub_server``, ``pubnub_server_factory``,
``pubnub_client``) come from ``tests/pubnub_fixtures.py``, with the test keyset's keys.
The IRC server and client fixtures (``irc_server``, ``irc_client``) come from
``tests/irc_fixtures.py``: a real ``miniircd`` process on a free port.
"""

pytest_plugins = ["errbot.backends.test", "tests.pubnub_fixtures", "tests.irc_fixtures"]
