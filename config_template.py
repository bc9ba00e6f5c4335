"""Errbot configuration for PubNub customer support.

Copy this file to ``config.py`` and run ``errbot -c config.py``; ``make demo`` runs it too (or
your ``config.py`` once you have one). As it stands it wires one bot on two networks:

    customers (PubNub) <-> Support plugin <-> agents (this terminal, or IRC)

with the customers on the local PubNub server (``make demo`` starts it on port 8090) and demo
keys. Set PUBNUB_PUBLISH_KEY and PUBNUB_SUBSCRIBE_KEY and the same file talks to PubNub itself.

Each setting says what it does; its default is the value written here, and the environment
variable it reads (if any) is the one in its ``os.environ.get(...)``. The README's
"Configuration reference" lists every setting and environment variable in one table.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# Errbot core
# ---------------------------------------------------------------------------------------------

# Where Errbot keeps its state (plugin storage, the support database, the PubNub cursor), created
# if missing. Environment: ERRBOT_DATA_DIR; default: "data" beside this file.
BOT_DATA_DIR = os.environ.get("ERRBOT_DATA_DIR", str(HERE / "data"))
os.makedirs(BOT_DATA_DIR, exist_ok=True)

# Extra plugin folders; this project's plugins are found through its installed entry points.
BOT_EXTRA_PLUGIN_DIR = None

# The log file (None: no file), and how much goes there. Environment: ERRBOT_LOG_LEVEL (DEBUG,
# INFO, WARNING, ERROR); default INFO. On the terminal the log goes only to this file.
BOT_LOG_FILE = os.path.join(BOT_DATA_DIR, "errbot.log")
BOT_LOG_LEVEL = getattr(logging, os.environ.get("ERRBOT_LOG_LEVEL", "INFO").upper())

# The prefix of every command ("!claim 1").
BOT_PREFIX = "!"

# ---------------------------------------------------------------------------------------------
# PubNub backend
# ---------------------------------------------------------------------------------------------

# Without PUBNUB_PUBLISH_KEY in the environment, everything below points at the local PubNub
# server (`make emulator`, port 8090) with demo keys; set the keys to talk to PubNub itself.
_PUBNUB_DEMO = "PUBNUB_PUBLISH_KEY" not in os.environ

# The keyset, and the single PubNub user every reply is published as. The PubNub backend reads
# BOT_IDENTITY; a Bridge hands PUBNUB_IDENTITY to its PubNub network. Without a secret key, an
# Access Manager token (PUBNUB_TOKEN) may authorise the support user; with neither, the keyset
# must be open (Access Manager off).
PUBNUB_IDENTITY = {
    "publish_key": os.environ.get("PUBNUB_PUBLISH_KEY", "pub-c-demo"),
    "subscribe_key": os.environ.get("PUBNUB_SUBSCRIBE_KEY", "sub-c-demo"),
    "secret_key": os.environ.get("PUBNUB_SECRET_KEY") or None,
    "token": os.environ.get("PUBNUB_TOKEN") or None,
    "user_id": os.environ.get("PUBNUB_USER_ID", "support"),
}
BOT_IDENTITY = PUBNUB_IDENTITY

# The channel group(s) holding one channel per customer: a name, or up to 10 names (the
# environment variable takes them comma-separated).
PUBNUB_CHANNEL_GROUP = [
    group.strip()
    for group in os.environ.get("PUBNUB_CHANNEL_GROUP", "support").split(",")
    if group.strip()
]

# The class translating your app's PubNub JSON to chat messages and back (a dotted path).
PUBNUB_MESSAGE_CONVERTER = os.environ.get(
    "PUBNUB_MESSAGE_CONVERTER", "errbot_pubnub.DefaultMessageConverter"
)

# Where PubNub is: None for PubNub itself, "127.0.0.1:8090" for the local server.
PUBNUB_ORIGIN = os.environ.get("PUBNUB_ORIGIN") or ("127.0.0.1:8090" if _PUBNUB_DEMO else None)

# TLS: None follows the origin (on, except for loopback or an http:// origin); True or False
# forces it.
PUBNUB_SSL = None

# How many customer channels are handled at the same time (each channel stays in order).
PUBNUB_CHANNEL_WORKERS = 4

# Show customers by the `name` your app keeps in PubNub App Context (needs GET on uuids).
PUBNUB_USER_NAMES = True

# Undelivered messages (unreadable payloads) kept for `!pubnub undelivered`.
PUBNUB_DEAD_LETTER_LIMIT = 200

# At most one warning to the admins per kind of problem in this many seconds.
PUBNUB_WARNING_INTERVAL = 300

# Delivery (README "Delivery guarantees"). Where the backend remembers what it has handled:
# None for an SQLite file in BOT_DATA_DIR, or an SQLAlchemy URL / a file path.
PUBNUB_DELIVERY_DB_URL = os.environ.get("PUBNUB_DELIVERY_DB_URL") or None

# True: the bots on one PostgreSQL PUBNUB_DELIVERY_DB_URL share PUBNUB_CHANNEL_GROUP (up to 200
# groups), each subscribing only to its share (at most 10) and taking over a dead one's (README
# "Several instances").
PUBNUB_SHARE_GROUPS = False

# Seconds of history delivered at the very first start (0: from now on only).
PUBNUB_FIRST_START_CATCH_UP = 0

# Recently handled messages remembered to drop repeats.
PUBNUB_DEDUP_WINDOW = 10_000

# Longest wait between two attempts to subscribe again; wait after a refusal (403).
PUBNUB_RECONNECT_MAX_DELAY = 30
PUBNUB_ACCESS_RETRY_INTERVAL = 60

# Replies: attempts and time budget of a publish that fails for a reason that may pass, and an
# optional meta key carrying one id per message (the same on every attempt) for apps to dedupe.
PUBNUB_PUBLISH_ATTEMPTS = 4
PUBNUB_PUBLISH_RETRY_SECONDS = 15
PUBNUB_PUBLISH_ID_META = None

# Channels a channel group holds on your PubNub plan: admins are warned as groups fill up.
PUBNUB_GROUP_CAPACITY = 2000

# The customer session service (README "Customer sessions"): your app server POSTs a customer's
# user id to the bot and gets back the customer's channel and an Access Manager token for it
# alone. On while PUBNUB_SESSION_SECRET (shared with your app server only) is set; served by
# Errbot's webserver on PUBNUB_SESSION_LISTEN (host:port). `make demo` turns it on by itself.
PUBNUB_SESSION_SECRET = os.environ.get("PUBNUB_SESSION_SECRET") or None
PUBNUB_SESSION_LISTEN = os.environ.get("PUBNUB_SESSION_LISTEN", "127.0.0.1:3141")
# Channels the service puts in one group before it opens the next (up to 10 groups), and how
# long a customer's token lasts, in minutes.
PUBNUB_SESSION_GROUP_SIZE = 100
PUBNUB_SESSION_TOKEN_TTL = 24 * 60
# A customer's channel: {user_id} is the customer's PubNub user id.
PUBNUB_CUSTOMER_CHANNEL = "{user_id}-support"


# ---------------------------------------------------------------------------------------------
# Bridge backend
# ---------------------------------------------------------------------------------------------

# "Bridge" runs several backends ("networks") in one bot: customers on PubNub, agents where they
# already chat. Environment: ERRBOT_BACKEND; ERRBOT_BACKEND=PubNub runs the PubNub backend alone.
BACKEND = os.environ.get("ERRBOT_BACKEND", "Bridge")

# Where agents work. Environment: BRIDGE_AGENTS_BACKEND, "Text" (this terminal, the default) or
# "IRC" (with IRC_SERVER, default 127.0.0.1; IRC_PORT, default 6667; IRC_NICKNAME, default
# support-bot). For Slack or any other chat, write the "agents" entry yourself (see the README).
_AGENT_NETWORKS = {
    "Text": {
        "BACKEND": "Text",
        "BOT_IDENTITY": {"username": "@support"},
        "CHATROOM_PRESENCE": ("#support",),
    },
    "IRC": {
        "BACKEND": "IRC",
        "BOT_IDENTITY": {
            "nickname": os.environ.get("IRC_NICKNAME", "support-bot"),
            "server": os.environ.get("IRC_SERVER", "127.0.0.1"),
            "port": int(os.environ.get("IRC_PORT", "6667")),
        },
        "CHATROOM_PRESENCE": ("#support",),
    },
}
_AGENTS = os.environ.get("BRIDGE_AGENTS_BACKEND", "Text")
if _AGENTS not in _AGENT_NETWORKS:
    raise SystemExit(f"BRIDGE_AGENTS_BACKEND must be one of {', '.join(_AGENT_NETWORKS)}.")

# Each network runs with its own copy of this whole file, its entry's settings applied on top.
# Identifiers carry their network ("agents:#support", "customers:alice-support/alice"); one
# written without a prefix belongs to the FIRST network.
BRIDGE_BACKENDS = {
    "agents": _AGENT_NETWORKS[_AGENTS],
    "customers": {
        "BACKEND": "PubNub",
        "BOT_IDENTITY": PUBNUB_IDENTITY,
        # Customers only talk: a "!command" from them reaches plugins as text and runs nothing.
        "BRIDGE_COMMANDS": False,
    },
}

# Bot admins, each "<network>:<pattern>" so it can never match someone on another network; they
# get the bot's warnings and may run admin commands. Environment: BRIDGE_ADMINS, comma-separated;
# default: "agents:@admin" on the terminal (that is you), none on IRC, where you name the host
# too: "agents:alice!*@trusted.example".
BOT_ADMINS = tuple(
    admin.strip()
    for admin in os.environ.get(
        "BRIDGE_ADMINS", "agents:@admin" if _AGENTS == "Text" else ""
    ).split(",")
    if admin.strip()
)

# Plugins start once every network is connected, or after this many seconds (None: wait forever;
# admins are told which network is missing).
BRIDGE_START_TIMEOUT = 120

# A network that drops reconnects on its own, waiting 1 s, then twice as long each time, at most
# 60 s (either can also be set per network, inside its BRIDGE_BACKENDS entry).
BRIDGE_RECONNECT_DELAY = 1.0
BRIDGE_RECONNECT_MAX_DELAY = 60.0

# How long a stop (Ctrl-C, SIGTERM) waits for the networks to finish.
BRIDGE_STOP_TIMEOUT = 5.0

# ---------------------------------------------------------------------------------------------
# Support plugin
# ---------------------------------------------------------------------------------------------

# The room where conversations appear and agents work. With the Bridge, prefix it with the
# agents' network ("agents:#support"); on a single backend, only the room ("#support").
SUPPORT_AGENT_ROOM = os.environ.get("SUPPORT_AGENT_ROOM", "agents:#support")

# Teams in rooms of their own: customer chat pattern (glob) -> agent room. A new conversation
# goes to the room of the first pattern its chat matches, else to SUPPORT_AGENT_ROOM; `!move`
# sends a conversation to another room. Empty: every conversation in SUPPORT_AGENT_ROOM.
# A dict instead of a room gives the room texts of its own (the texts below, by name):
#   "*-fr": {"room": "agents:#support-fr", "SUPPORT_ACKNOWLEDGEMENT": "Merci !"}
SUPPORT_ROUTES = {}  # e.g. {"vip-*": "agents:#vip", "*-fr": "agents:#support-fr"}

# The Bridge network whose rooms are customer chats. Its BRIDGE_BACKENDS entry must say
# "BRIDGE_COMMANDS": False, so that a customer's "!resolve 1" is relayed as text and never
# parsed as a command. None on a single backend: every room other than the agent room is then a
# customer chat (set SUPPRESS_CMD_NOT_FOUND = True there, so "!anything" gets no answer).
SUPPORT_CUSTOMER_NETWORK = os.environ.get("SUPPORT_CUSTOMER_NETWORK", "customers") or None

# Where conversations are stored: None for an SQLite file (support.sqlite) in BOT_DATA_DIR, or
# any SQLAlchemy URL, e.g. "postgresql+psycopg://support:secret@db/support" (install the
# "postgresql" extra). Tables are created, or upgraded, when the plugin starts. An SQLite file
# serves one bot: a second bot started on it refuses to activate Support.
SUPPORT_DB_URL = os.environ.get("SUPPORT_DB_URL") or None

# Several bots on one PostgreSQL SUPPORT_DB_URL (and the same PUBNUB_DELIVERY_DB_URL, with
# PUBNUB_SHARE_GROUPS) act as one: all take customers in, one at a time faces the agents (on IRC
# give each bot its own nick and leave the agent room out of CHATROOM_PRESENCE: the active one
# joins it). The seconds within which another takes over from one that died (README "Several
# instances").
INSTANCES_TAKEOVER_SECONDS = 10

# Who may run the agent commands: empty for anyone in the agent room, or identities and glob
# patterns who may then also work from direct messages. Name what the network vouches for: on
# IRC nick!user@host with a host you trust ("agents:alice!*@trusted.example"; a bare nick is
# anyone's once its owner leaves), on Slack member ids ("agents:U0123ABCD").
# Environment: SUPPORT_AGENTS, comma-separated. Default: empty, except on the terminal, where
# you ("@admin") talk to the bot one-on-one (Errbot's Text backend puts you in no room inside a
# Bridge), so the template lists you: "agents:@admin".
SUPPORT_AGENTS = [
    agent.strip()
    for agent in os.environ.get(
        "SUPPORT_AGENTS", "agents:@admin" if _AGENTS == "Text" else ""
    ).split(",")
    if agent.strip()
]

# Texts sent to customers; None sends nothing. The claimed notice may name the agent: {agent}.
SUPPORT_ACKNOWLEDGEMENT = (
    "Thanks for your message! Someone from our team will answer you here shortly."
)
SUPPORT_RESOLVED_NOTICE = (
    "We have marked this conversation as resolved. Write again any time if you need more help."
)
SUPPORT_CLAIMED_NOTICE = None  # e.g. "{agent} is looking after your request."
# Sent (kind "postponed") when an agent puts the conversation back in the queue (!release).
SUPPORT_POSTPONED_NOTICE = None  # e.g. "Your request is waiting for the next available agent."
# Asked after the resolved notice; a reply of 1 to 5 within a day rates the conversation (!stats).
SUPPORT_RATING_QUESTION = None  # e.g. "How did we do? Reply with a number from 1 to 5."
SUPPORT_RATING_THANKS = "Thank you for your feedback!"

# When agents answer (None: always). Outside these hours a new conversation gets the
# after-hours notice instead of the acknowledgement; SUPPORT_TIMEZONE is an IANA zone name.
SUPPORT_BUSINESS_HOURS = None  # e.g. ("Mon-Fri 09:00-18:00", "Sat 10:00-13:00")
SUPPORT_TIMEZONE = "UTC"  # e.g. "Europe/Paris"
SUPPORT_AFTER_HOURS_NOTICE = (
    "Thanks for your message! Our team is away right now; we will answer here as soon as we "
    "are back."
)

# Canned replies: `!reply 12 :refund` sends the text named "refund"; {customer} and {agent}
# are replaced by the names. `!canned` lists them.
SUPPORT_CANNED_REPLIES = {
    "hello": "Hello {customer}, this is {agent}. How can I help?",
}

# One thread per conversation in the agent room, where the agents' chat has threads (Slack);
# an agent's message in a conversation's thread then goes to the customer as a reply.
SUPPORT_THREADS = False

# Minutes a customer may wait for an answer before the agent room is reminded of them (once per
# wait, only during business hours); None: no reminders.
SUPPORT_REMINDER_MINUTES = None  # e.g. 10

# Hours of silence from the customer after an agent's reply that resolve the conversation on
# its agent's behalf (with the resolved notice); None: conversations are resolved by hand only.
SUPPORT_AUTO_RESOLVE_HOURS = None  # e.g. 48

# Transcript lines per page of `!transcript`; seconds between two attempts to relay messages the
# agent room could not take; days covered by `!stats` without an argument.
SUPPORT_PAGE_SIZE = 15
SUPPORT_RETRY_INTERVAL = 10
SUPPORT_STATS_DAYS = 7

# A customer writing more messages than this in a minute is flooding: the agent room is told
# once, and on a paced network (IRC, Slack) that conversation's messages go out grouped, at a
# share of the room that leaves the other customers their turn. Every message is kept.
SUPPORT_FLOOD_MESSAGES_PER_MINUTE = 30
