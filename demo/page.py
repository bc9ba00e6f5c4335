"""The customer chat page: its files, and its settings written from the bot's configuration.

``ChatPage`` serves ``web/`` (the page, the widget, PubNub's JavaScript SDK) and ``config.js``,
the widget's settings, on a thread of its own. Playing the company's app server, it opens each
browser's customer session at ``/session`` (the customer's channel, placed in a support group,
and a token for that customer alone): through the bot's customer session service when it runs,
else with the secret key and the same code. On an open keyset without the service, the page
registers its channel itself.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from errbot_pubnub.converters import ChatSDKMessageConverter
from errbot_pubnub.customer_sessions import CustomerSessions, SessionError
from errbot_pubnub.sdk import PNConfiguration, new_client, stop_client
from errbot_pubnub.settings import PubNubSettings, channel_group_limit, invalid_name_reason
from errbot_support_demo.sessions import SESSION_PATH

log = logging.getLogger(__name__)

WEB_FILES = resources.files("errbot_support_demo") / "web"
#: How long the page server waits for the bot's session service.
SESSION_TIMEOUT = 20.0


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
    sessionUrl: str | None

    @classmethod
    def of(
        cls, pubnub: PubNubSettings, rating_question: str | None, sessions: bool
    ) -> PageSettings:
        chat_sdk = isinstance(pubnub.converter, ChatSDKMessageConverter)
        return cls(
            publishKey=pubnub.publish_key,
            subscribeKey=pubnub.subscribe_key,
            origin=pubnub.origin,
            ssl=pubnub.ssl,
            channelGroup=pubnub.channel_groups[0],
            messageFormat="chat-sdk" if chat_sdk else "default",
            ratingQuestion=rating_question,
            sessionUrl="session" if sessions else None,
        )

    def script(self) -> str:
        return f"window.SUPPORT_CHAT = {json.dumps(asdict(self), indent=2)};\n"


class SessionSource(Protocol):
    """Opens a customer's session: ``{"channel", "channel_group", "token", ...}``."""

    def open(self, user_id: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


class SessionRefused(Exception):
    """No session: ``str()`` is one sentence, ``status`` the HTTP status for the browser and
    ``retry_after`` (seconds, as text) when it is worth asking again soon."""

    def __init__(
        self, sentence: str, status: int = HTTPStatus.BAD_GATEWAY, retry_after: str | None = None
    ) -> None:
        super().__init__(sentence)
        self.status = status
        self.retry_after = retry_after


class ServiceSessions:
    """Sessions from the bot's customer session service, as a company's backend asks for them:
    ``POST`` the user id with the shared secret."""

    def __init__(self, url: str, secret: str) -> None:
        self.url, self._secret = url, secret

    def open(self, user_id: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"user_id": user_id}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._secret}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=SESSION_TIMEOUT) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            try:
                why = json.loads(refused.read()).get("error") or refused.reason
            except (ValueError, AttributeError):
                why = refused.reason
            if refused.code == HTTPStatus.SERVICE_UNAVAILABLE:  # starting, or PubNub away
                raise SessionRefused(
                    f"The customer session service is unavailable for now: {why}",
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    refused.headers.get("Retry-After"),
                ) from None
            raise SessionRefused(
                f"The customer session service refused: {why}",
                retry_after=refused.headers.get("Retry-After"),
            ) from None
        except (OSError, ValueError) as error:
            raise SessionRefused(
                f"The customer session service cannot be reached: {error}"
            ) from None

    def close(self) -> None:
        """Nothing held."""


class OwnSessions:
    """Sessions opened here with the secret key, by the service's own code."""

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
        self._client = new_client(config)
        self._sessions = CustomerSessions(
            self._client,
            channel_groups=pubnub.channel_groups,
            can_grant=True,
            limit=channel_group_limit(pubnub.share_groups),
        )

    def open(self, user_id: str) -> dict[str, Any]:
        try:
            return self._sessions.open(user_id).as_dict()
        except SessionError as error:
            retry_after = None if error.retry_after is None else str(error.retry_after)
            raise SessionRefused(str(error), error.status, retry_after) from None

    def close(self) -> None:
        stop_client(self._client)


def session_source(pubnub_config: Any, pubnub: PubNubSettings) -> SessionSource | None:
    """Where the page's sessions come from: the bot's session service when the configuration
    serves it, else the secret key; ``None`` on an open keyset without the service."""
    secret = getattr(pubnub_config, "PUBNUB_SESSION_SECRET", None)
    listen = getattr(pubnub_config, "PUBNUB_SESSION_LISTEN", None)
    if secret and listen:
        return ServiceSessions(f"http://{listen}{SESSION_PATH}", secret)
    if pubnub.secret_key:
        return OwnSessions(pubnub)
    return None


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
        self, settings: PageSettings, sessions: SessionSource | None, host: str, port: int
    ) -> None:
        self.settings = settings
        self._sessions = sessions
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

    @property
    def serves_sessions(self) -> bool:
        """Whether the page opens sessions (``/session``) or the page registers itself."""
        return self._sessions is not None

    def open_session(self, user_id: str) -> dict[str, Any]:
        """The customer's session, from the source this page was given (SessionRefused if none)."""
        if self._sessions is None:
            raise SessionRefused("No session service: the page registers.", HTTPStatus.NOT_FOUND)
        return self._sessions.open(user_id)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._sessions is not None:
            self._sessions.close()

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
                elif path == "/session":
                    self._session()
                else:
                    super().do_GET()

            def _session(self) -> None:
                user_id = parse_qs(urlsplit(self.path).query).get("user_id", [""])[0]
                reason = invalid_name_reason(user_id) if user_id else "it is missing"
                if not page.serves_sessions:
                    self._refuse(HTTPStatus.NOT_FOUND, "No session service: the page registers.")
                elif reason:
                    self._refuse(HTTPStatus.BAD_REQUEST, f"user_id cannot be used: {reason}.")
                else:
                    try:
                        session = page.open_session(user_id)
                    except SessionRefused as refused:
                        log.warning("No session for %r: %s", user_id, refused)
                        self._refuse(HTTPStatus(refused.status), str(refused), refused.retry_after)
                        return
                    self._answer(HTTPStatus.OK, json.dumps(session), "application/json")

            def _refuse(
                self, status: HTTPStatus, reason: str, retry_after: str | None = None
            ) -> None:
                extra = {"Retry-After": retry_after} if retry_after else {}
                self._answer(status, json.dumps({"error": reason}), "application/json", extra)

            def _answer(
                self,
                status: HTTPStatus,
                body: str,
                content_type: str,
                extra: dict[str, str] | None = None,
            ) -> None:
                data = body.encode()
                self.send_response(status)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("chat page: " + format, *args)

        return Handler
