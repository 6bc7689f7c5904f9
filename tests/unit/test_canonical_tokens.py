"""Issue 20: a token has one spelling. Non-canonical base64 (padding, stray bits, junk characters) is refused."""

from __future__ import annotations

import base64

import pytest

from samtykke.domain import sessions, tokens
from samtykke.domain.access import Role, Scope

pytestmark = pytest.mark.unit

KEY = b"k" * 32
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _flip_low_bit(char: str) -> str:
    return ALPHABET[ALPHABET.index(char) ^ 1]


def _respellings(payload: str, mac: str) -> dict[str, str]:
    """Other spellings of the same bytes, each of which Python's lax decoder accepts."""
    return {
        "padded": f"{payload}.{mac}==",
        "junk inside": f"{payload[:5]}!{payload[5:]}.{mac}",
        # A 16-byte MAC is 22 characters; the last one's 4 low bits carry nothing.
        "stray low bit": f"{payload}.{mac[:-1]}{_flip_low_bit(mac[-1])}",
    }


def test_the_stray_low_bit_spelling_is_the_same_bytes_to_a_lax_decoder() -> None:
    _, mac = tokens.sign(KEY, "unsubscribe", {"t": "acme"}).split(".")
    other = mac[:-1] + _flip_low_bit(mac[-1])
    assert base64.urlsafe_b64decode(other + "==") == base64.urlsafe_b64decode(mac + "==")
    with pytest.raises(ValueError, match="canonical"):
        tokens.unb64url(other)


@pytest.mark.parametrize("spelling", ["padded", "junk inside", "stray low bit"])
def test_a_link_token_verifies_only_in_its_canonical_spelling(spelling: str) -> None:
    token = tokens.sign(KEY, "unsubscribe", {"t": "acme", "c": "c1"})
    assert tokens.verify(KEY, "unsubscribe", token, now=0)["t"] == "acme"
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(KEY, "unsubscribe", _respellings(*token.split("."))[spelling], now=0)


@pytest.mark.parametrize("spelling", ["padded", "junk inside", "stray low bit"])
def test_a_session_token_verifies_only_in_its_canonical_spelling(spelling: str) -> None:
    claims = sessions.SessionClaims(
        tenant_id="acme",
        user_id="u1",
        role=Role.OWNER,
        grants=frozenset(),
        scope=Scope.FULL,
        session_epoch=0,
        authz_version=0,
        family_id=None,
        issued_at=0,
        expires_at=10**10,
    )
    token = sessions.sign_access_token(KEY, claims)
    assert sessions.verify_access_token(KEY, token, now=1).user_id == "u1"
    payload, mac = token.removeprefix(sessions.ACCESS_PREFIX).split(".")
    with pytest.raises(sessions.InvalidSession):
        sessions.verify_access_token(KEY, sessions.ACCESS_PREFIX + _respellings(payload, mac)[spelling], now=1)
