"""The whole product on one machine, without a PubNub account: ``make demo``, ``make customer``.

``errbot-support-demo run`` starts the local PubNub server in this process, then Errbot itself
(its own ``errbot -c config.py`` entry point, in the main thread) with ``config.py``, or with
``config_template.py`` when there is no ``config.py``: the demo runs the configuration users
run, so the two cannot drift apart. Everything lives in one process, so Ctrl-C (or SIGTERM)
stops the bot, then the server, and nothing is left behind. ``errbot-support-demo customer``
chats as a customer with the keys, server, channel group and converter of the same
configuration.

With ``PUBNUB_PUBLISH_KEY`` in the environment the configuration talks to PubNub itself, and
the demo starts no local server.
"""
