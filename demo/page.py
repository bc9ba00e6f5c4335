"""The customer chat page: its files, and its settings written from the bot's configuration.

``ChatPage`` serves ``web/`` (the page, the widget, PubNub's JavaScript SDK) and ``config.js``,
the widget's settings, on a thread of its own. With a secret key it also hands each browser a
token for its own channel at ``/token``, as a company's server would (see ``grant_token``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pubnub.exceptions import PubNubException
from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.group import Group
from pubnub.models.consumer.v3.uuid import UUID
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import PubNub

from errbot_pubnub.converters import ChatSDKMessageConverter
from errbot_pubnub.sdk_stop import stop_client
from errbot_pubnub.settings import PubNubSettings, invalid_name_reason

log = logging.getLogger(__name__)

WEB_FILES = resources.files("errbot_support_demo") / "web"
TOKEN_TTL_MINUTES = 24 * 60


@dataclass(frozen=True)
class PageSettings:
    """What the widget needs to know (``window.SUPPORT_CHAT``); nothing secret."""

    publishKey: str
    subscribeKey: str
    origin: str | None
    ssl: bool
    channelGroup: str
    messageFormat: str
    ratingQuestion: str | None
    tokenUrl: str | None

    @classmethod
    def of(cls, pubnub: PubNubSettings, rating_question: str | None) -> PageSettings:
        chat_sdk = isinstance(pubnub.converter, ChatSDKMessageConverter)
        return cls(
            publishKey=pubnub.publish_key,
            subscribeKey=pubnub.subscribe_key,
            origin=pubnub.origin,
            ssl=pubnub.ssl,
            channelGroup=pubnub.channel_groups[0],
            messageFormat="chat-sdk" if chat_sdk else "default",
            ratingQuestion=rating_question,
            tokenUrl="token" if pubnub.secret_key else None,
        )

    def script(self) -> str:
        return f"window.SUPPORT_CHAT = {json.dumps(asdict(self), indent=2)};\n"


class TokenIssuer:
    """Grants a browser's customer a token for their own channel, with the secret key.

    What the customer client grants itself: read and write on ``<user id>-support``, manage
    on the group (to register the channel) and update on their own user (name and email).
    """

    def __init__(self, pubnub: PubNubSettings) -> None:
        config = PNConfiguration()
        config.publish_key = pubnub.publish_key
        config.subscribe_key = pubnub.subscribe_key
        config.secret_key = pubnub.secret_key
        config.user_id = pubnub.user_id
        config.ssl = pubnub.ssl
        if pubnub.origin:
            config.origin = pubnub.origin
        config.daemon = True
        config.disable_config_locking = False
        self._client = PubNub(config)
        self._group = pubnub.channel_groups[0]

    def grant(self, user_id: str) -> str:
        return (
            self._client.grant_token()
            .ttl(TOKEN_TTL_MINUTES)
            .authorized_uuid(user_id)
            .channels([Channel.id(f"{user_id}-support").read().write()])
            .groups([Group.id(self._group).manage()])
            .uuids([UUID.id(user_id).update()])
            .sync()
            .result.token
        )

    def close(self) -> None:
        stop_client(self._client)


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that goes away mid-answer is routine; anything else is logged."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.debug("chat page: %s left: %s", client_address, error)
        else:
            log.exception("chat page: could not answer %s", client_address)


class ChatPage:
    """The page on ``host:port`` (``port=0`` picks a free one), served from a thread."""

    def __init__(
        self, settings: PageSettings, tokens: TokenIssuer | None, host: str, port: int
    ) -> None:
        self.settings = settings
        self._tokens = tokens
        self._server = _PageServer((host, port), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="chat-page", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> ChatPage:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._tokens is not None:
            self._tokens.close()

    def _handler_class(self) -> type[SimpleHTTPRequestHandler]:
        page = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                with resources.as_file(WEB_FILES) as folder:
                    super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/config.js":
                    self._answer(HTTPStatus.OK, page.settings.script(), "text/javascript")
                elif path == "/token":
                    self._token()
                else:
                    super().do_GET()

            def _token(self) -> None:
                user_id = parse_qs(urlsplit(self.path).query).get("user_id", [""])[0]
                reason = invalid_name_reason(user_id) if user_id else "it is missing"
                if page._tokens is None:
                    self._refuse(HTTPStatus.NOT_FOUND, "Access Manager is off: no token needed.")
                elif reason:
                    self._refuse(HTTPStatus.BAD_REQUEST, f"user_id cannot be used: {reason}.")
                else:
                    try:
                        token = page._tokens.grant(user_id)
                    except PubNubException as error:
                        log.warning("Could not grant a token to %r: %s", user_id, error)
                        self._refuse(HTTPStatus.BAD_GATEWAY, "PubNub refused to grant a token.")
                        return
                    self._answer(HTTPStatus.OK, json.dumps({"token": token}), "application/json")

            def _refuse(self, status: HTTPStatus, reason: str) -> None:
                self._answer(status, json.dumps({"error": reason}), "application/json")

            def _answer(self, status: HTTPStatus, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("chat page: " + format, *args)

        return Handler
