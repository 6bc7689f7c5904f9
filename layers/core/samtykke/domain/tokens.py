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


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Unpadded base64url in its one canonical spelling, else ValueError.

    Python's decoder skips characters outside the alphabet and ignores stray low bits in the last character, so
    many spellings decode to the same bytes; a token has exactly one.
    """
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("Not canonical unpadded base64url")
    return data


def _mac(key: bytes, use: str, payload: bytes) -> bytes:
    return hmac.new(key, use.encode() + b"\x00" + payload, hashlib.sha256).digest()[:MAC_BYTES]


class InvalidToken(BadRequest):
    code = "invalid_token"


def sign(key: bytes, use: str, claims: Mapping[str, Any]) -> str:
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return f"{b64url(payload)}.{b64url(_mac(key, use, payload))}"


def peek(token: str) -> dict[str, Any]:
    """The unverified claims, to find which tenant's key verifies the token. Never trust them alone."""
    try:
        payload_part, _ = token.split(".", 1)
        claims = json.loads(unb64url(payload_part))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("The link is malformed") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("The link is malformed")
    return claims


def verify(key: bytes, use: str, token: str, *, now: int) -> dict[str, Any]:
    claims = peek(token)
    payload_part, mac_part = token.split(".", 1)
    try:
        given = unb64url(mac_part)
        payload = unb64url(payload_part)
    except ValueError as exc:
        raise InvalidToken("The link is malformed") from exc
    if not hmac.compare_digest(given, _mac(key, use, payload)):
        raise InvalidToken("The link is not valid")
    expires = claims.get("exp")
    if expires is not None and int(expires) < now:
        raise InvalidToken("The link has expired", code="token_expired")
    return claims
