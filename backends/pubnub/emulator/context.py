"""Settings and the state every request handler shares."""

from __future__ import annotations

import collections
import hmac
from dataclasses import dataclass

from aiohttp import web

from errbot_pubnub.emulator.access import (
    Requirement,
    TokenAuthority,
    TokenError,
    sign_legacy,
    sign_v2,
    signature_candidates,
)
from errbot_pubnub.emulator.errors import bad_request, forbidden
from errbot_pubnub.emulator.faults import Faults
from errbot_pubnub.emulator.state import Keyset
from errbot_pubnub.emulator.timetokens import TimetokenClock


@dataclass(frozen=True)
class EmulatorSettings:
    """How the server behaves; defaults follow PubNub's."""

    secret_key: str | None = None
    publish_key: str | None = None
    subscribe_key: str | None = None
    group_capacity: int = 2000
    retention: int = 1000
    subscribe_timeout: float = 280.0
    catchup_size: int = 100
    catchup_seconds: float = 1200.0
    max_message_size: int = 32 * 1024
    max_signal_size: int = 64
    message_persistence: bool = True
    region: int = 1

    def __post_init__(self) -> None:
        if self.secret_key and not self.publish_key:
            raise ValueError(
                "secret_key needs publish_key too: clients sign every request with both."
            )
        for name in ("group_capacity", "retention", "catchup_size", "max_message_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.subscribe_timeout <= 0:
            raise ValueError("subscribe_timeout must be positive")


class EmulatorContext:
    """Keysets, clock, faults and access control of one running server."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.clock = TimetokenClock()
        self.faults = Faults()
        self.tokens = TokenAuthority(settings.secret_key) if settings.secret_key else None
        self.keysets: dict[str, Keyset] = {}
        self.request_counts: collections.Counter[str] = collections.Counter()
        self.down = False

    def keyset(self, subscribe_key: str, publish_key: str | None = None) -> Keyset:
        """The keyset a request addresses; refuses keys other than the configured ones."""
        expected_sub = self.settings.subscribe_key
        if not subscribe_key or (expected_sub and subscribe_key != expected_sub):
            raise bad_request("Invalid Subscribe Key", service="Access Manager")
        expected_pub = self.settings.publish_key
        if publish_key is not None and (
            not publish_key or (expected_pub and publish_key != expected_pub)
        ):
            raise bad_request("Invalid Key", service="Access Manager")
        keyset = self.keysets.get(subscribe_key)
        if keyset is None:
            keyset = self.keysets[subscribe_key] = Keyset(
                subscribe_key, self.settings.retention, self.settings.group_capacity
            )
        return keyset

    def catchup_floor(self) -> int:
        """The oldest timetoken a reconnecting subscriber can still be given live."""
        return self.clock.last - int(self.settings.catchup_seconds * 10_000_000)

    async def authorize(
        self,
        request: web.Request,
        requirement: Requirement | None,
        *,
        signed_only: bool = False,
    ) -> None:
        """Let the request through or raise PubNub's 403.

        Without a secret key the keyset is open. With one, a correct signature allows
        everything; otherwise the ``auth`` token must grant what ``requirement`` lists.
        """
        if self.tokens is None:
            return
        raw_path, _, raw_query = request.raw_path.partition("?")
        if "signature" in request.query:
            if await self._signature_matches(request, raw_path, raw_query):
                return
            raise forbidden("Invalid Signature")
        if signed_only or requirement is None:
            raise forbidden("Forbidden: this request must be signed with the secret key")
        token_text = request.query.get("auth")
        if not token_text:
            raise forbidden(payload=requirement.resources())
        try:
            token = self.tokens.parse(token_text)
        except TokenError as error:
            raise forbidden(str(error), payload=requirement.resources()) from error
        user_id = request.query.get("uuid")
        if token.authorized_uuid is not None and token.authorized_uuid != user_id:
            raise forbidden(
                f"Token is authorized for uuid {token.authorized_uuid!r}, not {user_id!r}",
                payload={"uuids": [user_id or ""]},
            )
        missing = requirement.missing(token)
        if missing:
            raise forbidden(payload=missing)

    async def _signature_matches(self, request: web.Request, raw_path: str, raw_query: str) -> bool:
        given = request.query["signature"]
        body = (await request.text()) if request.can_read_body else None
        for params in signature_candidates(raw_query):
            for expected in self._signatures(request.method, raw_path, params, body):
                if hmac.compare_digest(expected, given):
                    return True
        return False

    def _signatures(
        self, method: str, raw_path: str, params: dict[str, str | list[str]], body: str | None
    ) -> list[str]:
        """Every signature an official SDK computes for this request.

        A publish is signed in more than one way: the Python SDK signs a POST publish in the
        legacy form, the JavaScript SDK signs any publish as a v2 GET without the body.
        """
        secret, publish_key = self.settings.secret_key, self.settings.publish_key
        assert secret is not None and publish_key is not None
        if not raw_path.startswith("/publish"):
            return [sign_v2(secret, method, publish_key, raw_path, params, body=body)]
        parts = raw_path.split("/")
        forms = [sign_v2(secret, "GET", publish_key, raw_path, params)]
        if method == "POST":
            forms.append(sign_legacy(secret, parts[3], parts[2], raw_path, params))
        return forms


CONTEXT_KEY = web.AppKey("pubnub_emulator", EmulatorContext)


def context_of(request: web.Request) -> EmulatorContext:
    return request.app[CONTEXT_KEY]
