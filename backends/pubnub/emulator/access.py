"""Access Manager: request signatures, v3 tokens and permission checks, as PubNub does them.

Signatures are computed exactly as ``pubnub.utils.sign_request`` computes them, so a client
configured with the secret key is always let through. Tokens are the URL-safe, padded base64
of a CBOR map, which ``PubNub.parse_token()`` reads; they carry an HMAC made with the secret
key so that a forged or altered token is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cbor2

from errbot_pubnub.emulator.state import PRESENCE_SUFFIX

READ = 1
WRITE = 2
MANAGE = 4
DELETE = 8
CREATE = 16
GET = 32
UPDATE = 64
JOIN = 128

MAX_TTL_MINUTES = 43_200

# Grant request section -> token wire key.
_RESOURCE_KEYS = {
    "channels": "chan",
    "groups": "grp",
    "uuids": "uuid",
    "users": "usr",
    "spaces": "spc",
}


#: Query parameters by name: a value, or the values of a repeated parameter.
QueryParams = Mapping[str, str | list[str]]


class TokenError(Exception):
    """A token that cannot be used; the message is what the client is told."""


# --- signatures ---------------------------------------------------------------------------


def pam_encode(value: str) -> str:
    """Percent-encode a query value the way the SDK does before signing it."""
    encoded = urllib.parse.quote(value, safe="~").replace("+", "%2B")
    for char, code in (
        ("*", "%2A"),
        ("!", "%21"),
        ("'", "%27"),
        ("(", "%28"),
        (")", "%29"),
        ("[", "%5B"),
        ("]", "%5D"),
        ("~", "%7E"),
    ):
        encoded = encoded.replace(char, code)
    return encoded


def canonical_query(params: QueryParams) -> str:
    """The query as signed: keys sorted, a repeated key's values sorted (the JavaScript SDK
    repeats ``sort``), values percent-encoded."""
    pairs = []
    for key in sorted(params):
        if key == "signature":
            continue
        value = params[key]
        values = sorted(value) if isinstance(value, list) else [value]
        pairs += [f"{key}={pam_encode(str(v))}" for v in values]
    return "&".join(pairs)


def _hmac_b64(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def sign_v2(
    secret: str,
    method: str,
    publish_key: str,
    path: str,
    params: QueryParams,
    *,
    body: str | None = None,
) -> str:
    """The ``v2.`` signature every request but a POST publish carries."""
    text = f"{method.upper()}\n{publish_key}\n{path}\n{canonical_query(params)}\n{body or ''}"
    return "v2." + _hmac_b64(secret, text).rstrip("=")


def sign_legacy(
    secret: str, subscribe_key: str, publish_key: str, path: str, params: QueryParams
) -> str:
    """The older signature form the SDK still uses for POST publish (padding kept)."""
    return _hmac_b64(secret, f"{subscribe_key}\n{publish_key}\n{path}\n{canonical_query(params)}")


def signature_candidates(raw_query: str) -> list[dict[str, str | list[str]]]:
    """Query parameters as the client may have signed them.

    The SDK signs some values before percent-encoding them (``pnsdk``, ``meta``) and others
    already encoded (``channel-group``, ``state``, ``filter-expr``); the wire does not say
    which, so both readings are offered.
    """
    raw = [pair.partition("=")[::2] for pair in raw_query.split("&") if pair]
    as_sent = _grouped(raw)
    decoded = _grouped([(k, urllib.parse.unquote(v)) for k, v in raw])
    mixed = {k: (decoded[k] if k in ("pnsdk", "meta") else v) for k, v in as_sent.items()}
    candidates = [mixed]
    if decoded != mixed:
        candidates.append(decoded)
    return candidates


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Query pairs by key: one value as it is, a repeated key's values as a list."""
    grouped: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key not in grouped:
            grouped[key] = value
        else:
            previous = grouped[key]
            grouped[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
    return grouped


# --- tokens -------------------------------------------------------------------------------


@dataclass
class Token:
    version: int
    timestamp: int
    ttl: int
    resources: dict[str, dict[str, int]]
    patterns: dict[str, dict[str, int]]
    meta: dict[str, Any]
    authorized_uuid: str | None
    signature: bytes = b""

    @property
    def expires_at(self) -> int:
        return self.timestamp + self.ttl * 60

    def bits(self, kind: str, name: str) -> int:
        """Permission bits for a resource: its own grant plus every pattern it matches."""
        bits = self.resources.get(kind, {}).get(name, 0)
        for pattern, pattern_bits in self.patterns.get(kind, {}).items():
            if _pattern_matches(pattern, name):
                bits |= pattern_bits
        return bits

    def allows(self, kind: str, name: str, permission: int) -> bool:
        if self.bits(kind, name) & permission:
            return True
        # Presence channels and groups ride on the permissions of what they report on.
        return name.endswith(PRESENCE_SUFFIX) and bool(
            self.bits(kind, name[: -len(PRESENCE_SUFFIX)]) & permission
        )


def _pattern_matches(pattern: str, name: str) -> bool:
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


@dataclass
class Requirement:
    """What a request needs from a token."""

    read_channels: list[str] = field(default_factory=list)
    write_channels: list[str] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)
    manage_groups: list[str] = field(default_factory=list)
    get_uuids: list[str] = field(default_factory=list)  # App Context: a user's metadata
    update_uuids: list[str] = field(default_factory=list)
    delete_uuids: list[str] = field(default_factory=list)
    get_channels: list[str] = field(default_factory=list)  # App Context: a channel's
    update_channels: list[str] = field(default_factory=list)
    delete_channels: list[str] = field(default_factory=list)
    manage_channels: list[str] = field(default_factory=list)  # its members
    join_channels: list[str] = field(default_factory=list)  # a user's memberships in it

    def resources(self) -> dict[str, list[str]]:
        """The resources concerned, in the shape of PubNub's 403 ``payload``."""
        payload: dict[str, list[str]] = {}
        channels = list(
            dict.fromkeys(
                self.read_channels
                + self.write_channels
                + self.get_channels
                + self.update_channels
                + self.delete_channels
                + self.manage_channels
                + self.join_channels
            )
        )
        groups = list(dict.fromkeys(self.read_groups + self.manage_groups))
        uuids = list(dict.fromkeys(self.get_uuids + self.update_uuids + self.delete_uuids))
        if channels:
            payload["channels"] = channels
        if groups:
            payload["channel-groups"] = groups
        if uuids:
            payload["uuids"] = uuids
        return payload

    def missing(self, token: Token) -> dict[str, list[str]]:
        channels = [c for c in self.read_channels if not token.allows("chan", c, READ)]
        channels += [c for c in self.write_channels if not token.allows("chan", c, WRITE)]
        for wanted, bit in (
            (self.get_channels, GET),
            (self.update_channels, UPDATE),
            (self.delete_channels, DELETE),
            (self.manage_channels, MANAGE),
            (self.join_channels, JOIN),
        ):
            channels += [c for c in wanted if not token.allows("chan", c, bit)]
        groups = [g for g in self.read_groups if not token.allows("grp", g, READ)]
        groups += [g for g in self.manage_groups if not token.allows("grp", g, MANAGE)]
        uuids = [u for u in self.get_uuids if not token.allows("uuid", u, GET)]
        uuids += [u for u in self.update_uuids if not token.allows("uuid", u, UPDATE)]
        uuids += [u for u in self.delete_uuids if not token.allows("uuid", u, DELETE)]
        payload: dict[str, list[str]] = {}
        if channels:
            payload["channels"] = list(dict.fromkeys(channels))
        if groups:
            payload["channel-groups"] = list(dict.fromkeys(groups))
        if uuids:
            payload["uuids"] = list(dict.fromkeys(uuids))
        return payload


class TokenAuthority:
    """Issues, reads and revokes tokens for one secret key."""

    def __init__(self, secret_key: str, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret_key.encode()
        self._clock = clock
        self._revoked: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def issue(self, grant: Mapping[str, Any]) -> str:
        """A token for a grant request body (``{"ttl": ..., "permissions": {...}}``)."""
        ttl = grant.get("ttl")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= MAX_TTL_MINUTES:
            raise TokenError(f"ttl must be a whole number of minutes from 1 to {MAX_TTL_MINUTES}")
        permissions = grant.get("permissions")
        if not isinstance(permissions, Mapping):
            raise TokenError("permissions are missing")
        body: dict[bytes, Any] = {
            b"v": 2,
            b"t": int(self._clock()),
            b"ttl": ttl,
            b"res": _wire_resources(permissions.get("resources")),
            b"pat": _wire_resources(permissions.get("patterns")),
            b"meta": dict(permissions.get("meta") or {}),
        }
        if permissions.get("uuid"):
            body[b"uuid"] = str(permissions["uuid"])
        body[b"sig"] = self._sign(body)
        return base64.urlsafe_b64encode(cbor2.dumps(body)).decode()

    def parse(self, token: str) -> Token:
        """Read and check a token; raises ``TokenError`` saying why it cannot be used."""
        try:
            raw = cbor2.loads(base64.urlsafe_b64decode(token.encode()))
        except Exception as error:
            raise TokenError("Invalid token") from error
        if not isinstance(raw, dict) or b"sig" not in raw:
            raise TokenError("Invalid token")
        signature = raw.pop(b"sig")
        if not hmac.compare_digest(signature, self._sign(raw)):
            raise TokenError("Invalid token signature")
        parsed = Token(
            version=raw.get(b"v", 0),
            timestamp=raw.get(b"t", 0),
            ttl=raw.get(b"ttl", 0),
            resources=_read_resources(raw.get(b"res", {})),
            patterns=_read_resources(raw.get(b"pat", {})),
            meta=raw.get(b"meta", {}),
            authorized_uuid=raw.get(b"uuid"),
            signature=signature,
        )
        now = int(self._clock())
        if parsed.expires_at <= now:
            raise TokenError("Token is expired.")
        with self._lock:
            if signature in self._revoked:
                raise TokenError("Token is revoked.")
        return parsed

    def revoke(self, token: str) -> None:
        parsed = self.parse(token)
        now = int(self._clock())
        with self._lock:
            self._revoked = {sig: exp for sig, exp in self._revoked.items() if exp > now}
            self._revoked[parsed.signature] = parsed.expires_at

    def _sign(self, body: Mapping[bytes, Any]) -> bytes:
        return hmac.new(self._secret, cbor2.dumps(dict(body), canonical=True), "sha256").digest()


def _wire_resources(section: Any) -> dict[bytes, dict[str, int]]:
    wire: dict[bytes, dict[str, int]] = {key.encode(): {} for key in _RESOURCE_KEYS.values()}
    if not isinstance(section, Mapping):
        return wire
    for name, key in _RESOURCE_KEYS.items():
        entries = section.get(name) or {}
        if not isinstance(entries, Mapping):
            raise TokenError(f"permissions for {name} must be an object")
        for resource, bits in entries.items():
            if not isinstance(bits, int) or isinstance(bits, bool) or bits < 0:
                raise TokenError(f"permission bits for {name} {resource!r} must be a number")
            wire[key.encode()][str(resource)] = bits
    return wire


def _read_resources(section: Any) -> dict[str, dict[str, int]]:
    if not isinstance(section, Mapping):
        return {}
    return {
        (key.decode() if isinstance(key, bytes) else str(key)): dict(value)
        for key, value in section.items()
        if isinstance(value, Mapping)
    }
