"""The customer session service over HTTP: ``POST /pubnub/customer-session``.

A company's backend (never the customer's app) calls it when a customer opens the chat::

    POST /pubnub/customer-session
    Authorization: Bearer <PUBNUB_SESSION_SECRET>
    {"user_id": "dana"}

and hands the answer to the customer's app: ``{"user_id", "channel", "channel_group", "token",
"ttl_minutes", "publish_key", "subscribe_key"}``. Served by Errbot's built-in webserver (core
plugin ``Webserver``) while ``PUBNUB_SESSION_SECRET`` is set; the work is
:class:`errbot_pubnub.customer_sessions.CustomerSessions`. Executed by Errbot as a plugin
module, hence the absolute imports.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from typing import Any

import errbot.core_plugins
from errbot import BotPlugin, webhook
from flask import Response

from errbot_pubnub.companion import find_pubnub_backend
from errbot_pubnub.customer_sessions import (
    DEFAULT_CHANNEL_PATTERN,
    DEFAULT_GROUP_SIZE,
    DEFAULT_TOKEN_TTL,
    MAX_TOKEN_TTL,
    RETRY_AFTER,
    CustomerSessions,
    SessionError,
    check_channel_pattern,
)
from errbot_pubnub.settings import channel_group_limit

SESSION_PATH = "/pubnub/customer-session"
SECRET_SETTING = "PUBNUB_SESSION_SECRET"
LISTEN_SETTING = "PUBNUB_SESSION_LISTEN"
WEBSERVER = "Webserver"
MIN_SECRET_LENGTH = 16
#: Errbot's webserver binds in a thread of its own and only logs a failure there.
WEBSERVER_BIND_WAIT_S = 2.0

log = logging.getLogger(__name__)


def _host_and_port(listen: Any) -> tuple[str, int]:
    """``"127.0.0.1:3141"`` -> ``("127.0.0.1", 3141)``; a one-sentence ``ValueError`` if not."""
    host, _, port = str(listen).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{LISTEN_SETTING} must be 'host:port' for Errbot's webserver, e.g. "
            f"'127.0.0.1:3141', not {listen!r}."
        )
    return host.strip("[]"), int(port)


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _refusal(status: int, sentence: str, retry_after: int | None = None) -> Response:
    response = _answer(status, {"error": sentence})
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _whole_number(config: Any, name: str, default: int, low: int, high: int) -> int:
    value = getattr(config, name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}.")
    return value


STARTING = "The customer session service is starting or stopping: try again in a moment."


def _starting() -> Response:
    return _refusal(503, STARTING, retry_after=1)


def reserve_address() -> None:
    """Point the service's address in Errbot's web app at a 503 until this plugin serves it.

    Flask refuses new rules once it has answered a request, and Errbot adds a plugin's rules
    after the plugin starts; so a request arriving between Errbot's webserver starting (it may
    start first, from its stored configuration) and this plugin starting would leave the
    service unreachable until a restart. With the rule here, Errbot only swaps its view in; and
    a stopped plugin's view does not keep answering for it.
    """
    app = errbot.core_plugins.flask_app
    for rule in app.url_map.iter_rules():
        if rule.rule == SESSION_PATH:
            app.view_functions[rule.endpoint] = _starting
            return
    try:
        app.add_url_rule(
            SESSION_PATH,
            endpoint="customer_session_starting",
            view_func=_starting,
            methods=("POST",),
            strict_slashes=False,
        )
    except AssertionError:  # Flask: the app already answered a request (a plugin reload)
        log.warning(
            "Errbot's webserver is already serving, so the customer session service can only "
            "take its address %s when the bot restarts.",
            SESSION_PATH,
        )


class CustomerSessionsWebhook(BotPlugin):
    """Opens customer sessions for a company's backend that knows the shared secret."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reserve_address()  # Errbot builds every plugin before it starts any

    def activate(self) -> None:
        super().activate()
        self._sessions: CustomerSessions | None = None
        self._client: Any = None
        self._problem: str | None = None
        self._lock = threading.Lock()
        backend = find_pubnub_backend(self._bot)
        config = backend.bot_config if backend is not None else self.bot_config
        self._secret = getattr(config, SECRET_SETTING, None)
        if not self._secret:
            return  # the service is off: the webhook says so
        try:
            self._read_settings(config)
            listen = getattr(config, LISTEN_SETTING, None)
            if listen is not None:
                host, port = _host_and_port(listen)
                self._serve_on(host, port)
                self.start_poller(
                    WEBSERVER_BIND_WAIT_S, self._check_listening, times=1, args=(host, port)
                )
        except ValueError as problem:
            self._problem = str(problem)
            self.warn_admins(f"The customer session service is off: {problem}")
            return
        # Groups a session opened while the bot was stopped: the bot follows them again.
        self.start_poller(0.1, self._follow_groups_in_use, times=1)

    def _read_settings(self, config: Any) -> None:
        if not isinstance(self._secret, str) or len(self._secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"{SECRET_SETTING} must be a text of at least {MIN_SECRET_LENGTH} characters "
                "shared with your app server only, e.g. the output of `openssl rand -hex 32`."
            )
        self._group_size = _whole_number(
            config, "PUBNUB_SESSION_GROUP_SIZE", DEFAULT_GROUP_SIZE, 1, 2000
        )
        self._token_ttl = _whole_number(
            config, "PUBNUB_SESSION_TOKEN_TTL", DEFAULT_TOKEN_TTL, 1, MAX_TOKEN_TTL
        )
        self._pattern = check_channel_pattern(
            getattr(config, "PUBNUB_CUSTOMER_CHANNEL", DEFAULT_CHANNEL_PATTERN),
            "PUBNUB_CUSTOMER_CHANNEL",
        )

    def deactivate(self) -> None:
        reserve_address()
        super().deactivate()

    def _serve_on(self, host: str, port: int) -> None:
        """Errbot's webserver listens where the setting says (a chat admin may instead use
        ``!plugin config Webserver``, and leave the setting out)."""
        manager = self._bot.plugin_manager
        web = manager.get_plugin_obj_by_name(WEBSERVER)
        if web is None:
            raise ValueError(
                f"{LISTEN_SETTING} needs Errbot's Webserver plugin: add 'Webserver' to "
                "CORE_PLUGINS."
            )
        wanted = {"HOST": host, "PORT": port, "SSL": None}
        if manager.get_plugin_configuration(WEBSERVER) != wanted:
            if web.is_activated:
                manager.deactivate_plugin(WEBSERVER)
            web.check_configuration(wanted)
            manager.set_plugin_configuration(WEBSERVER, wanted)
        if not web.is_activated:
            manager.activate_plugin(WEBSERVER)
        self.log.info("Customer sessions served on http://%s:%d%s", host, port, SESSION_PATH)

    def _check_listening(self, host: str, port: int) -> None:
        """Errbot's webserver thread ends at once when it cannot listen (the port is taken),
        with a log line only: the admins are told, in one sentence."""
        web = self._bot.plugin_manager.get_plugin_obj_by_name(WEBSERVER)
        thread = getattr(web, "server_thread", None)  # Errbot's Webserver plugin, 6.x
        if thread is None or thread.is_alive():
            return
        self._problem = (
            f"Errbot's webserver could not listen on {host}:{port} (is another program using "
            f"that port?): set {LISTEN_SETTING} to a free 'host:port'."
        )
        self.warn_admins(f"The customer session service is off: {self._problem}")

    def _service(self) -> CustomerSessions:
        """Built on first use, once the PubNub backend is connected."""
        with self._lock:
            backend = find_pubnub_backend(self._bot)
            if backend is None:
                raise SessionError("This bot has no PubNub backend.", 503)
            pubnub = backend.pubnub
            if pubnub is None:
                raise SessionError(
                    "The bot is not connected to PubNub right now.", 503, retry_after=RETRY_AFTER
                )
            if self._sessions is not None and self._client is pubnub:
                return self._sessions
            settings = backend.settings
            if settings.token and not settings.secret_key:
                raise SessionError(
                    "The bot holds an Access Manager token, not the secret key, so it cannot "
                    "grant customers theirs: give it BOT_IDENTITY['secret_key'].",
                    503,
                )
            self._client = pubnub  # the backend's client: a new one after a reconnection
            self._sessions = CustomerSessions(
                pubnub,
                channel_groups=settings.channel_groups,
                can_grant=bool(settings.secret_key),
                group_size=self._group_size,
                token_ttl=self._token_ttl,
                channel_pattern=self._pattern,
                follow_group=backend.follow_channel_group,
                limit=channel_group_limit(settings.share_groups),
            )
            self._keys = {
                "publish_key": settings.publish_key,
                "subscribe_key": settings.subscribe_key,
            }
            return self._sessions

    def _follow_groups_in_use(self) -> None:
        try:
            sessions = self._service()
            backend = find_pubnub_backend(self._bot)
            for group in sessions.groups_in_use():
                backend.follow_channel_group(group)
        except Exception as exc:  # the bot still hears its configured groups
            self.log.warning("Could not look for the channel groups sessions opened: %s", exc)

    @webhook(SESSION_PATH, methods=("POST",), raw=True)
    def customer_session(self, request: Any) -> Response:
        """Open a customer's session: their channel in a group, and their token."""
        if not self._secret:
            return _refusal(
                404, f"The customer session service is off: set {SECRET_SETTING} to turn it on."
            )
        if self._problem:
            return _refusal(503, f"The customer session service is off: {self._problem}")
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {self._secret}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return _refusal(401, f"Authorization must be 'Bearer <{SECRET_SETTING}>'.")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("user_id"), str):
            return _refusal(400, 'The body must be JSON such as {"user_id": "dana"}.')
        try:
            grant = self._service().open(body["user_id"])
        except SessionError as problem:
            return _refusal(problem.status, problem.sentence, problem.retry_after)
        return _answer(200, {**grant.as_dict(), **self._keys})
