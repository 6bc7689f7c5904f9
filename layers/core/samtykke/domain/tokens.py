"""Compact signed tokens for links in emails (double opt-in now; unsubscribe and preferences later).

A token is `base64url(payload).base64url(mac)`, with an HMAC-SHA256 (truncated to 128 bits) over the
payload and a `use` tag, so a token made for one use never verifies for another. The key id in the
payload lets keys rotate while older tokens still verify during a grace period.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from samtykke.domain.errors import BadRequest

MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, use: str, payload: bytes) -> bytes:
    return hmac.new(key, use.encode() + b"\x00" + payload, hashlib.sha256).digest()[:MAC_BYTES]


class InvalidToken(BadRequest):
    code = "invalid_token"


def sign(key: bytes, use: str, claims: Mapping[str, Any]) -> str:
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(key, use, payload))}"


def peek(token: str) -> dict[str, Any]:
    """The unverified claims, to find which tenant's key verifies the token. Never trust them alone."""
    try:
        payload_part, _ = token.split(".", 1)
        claims = json.loads(_unb64(payload_part))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("The link is malformed") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("The link is malformed")
    return claims


def verify(key: bytes, use: str, token: str, *, now: int) -> dict[str, Any]:
    claims = peek(token)
    payload_part, mac_part = token.split(".", 1)
    try:
        given = _unb64(mac_part)
        payload = _unb64(payload_part)
    except ValueError as exc:
        raise InvalidToken("The link is malformed") from exc
    if not hmac.compare_digest(given, _mac(key, use, payload)):
        raise InvalidToken("The link is not valid")
    expires = claims.get("exp")
    if expires is not None and int(expires) < now:
        raise InvalidToken("The link has expired", code="token_expired")
    return claims
