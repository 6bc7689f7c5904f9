"""Staff session tokens: short-lived, signed bearer tokens, and the rotating refresh tokens behind them. Pure.

Access token: `sts_<base64url(payload)>.<base64url(HMAC-SHA256(key, "samtykke/session/v1" NUL payload))>`, the
payload compact JSON with:

| claim | meaning |
| --- | --- |
| `t`, `u` | tenant and user |
| `r`, `g` | role and grants (e.g. `sensitive:read`) |
| `sc` | scope: `full`, or `mfa_enrolment` (may only enrol a factor) |
| `ep`, `av` | the user's session epoch and authorisation version when issued (see below) |
| `fam` | the refresh-token family (the login) it belongs to |
| `amr` | how the user proved who they are: `pwd`, `otp`, `recovery` |
| `iat`, `exp`, `jti` | issued, expires (15 minutes), a random token id |

The authorizer refuses a token whose `ep` or `av` no longer match the user's: a password reset, deactivation or
refresh-token reuse bumps the epoch (every session ends); a role or grant change bumps the version (access tokens
end; refresh gives new ones with the new role).

The key is the tenant's (HKDF from the tenant root key, `TenantKeys.signing_key("staff-session")`), so a token
of tenant A never verifies under tenant B's key, whatever its claims say.

Refresh token: `rt_<tenant>.<family>.<secret>`. Only SHA-256(secret) is stored; each use replaces it, and a
secret that was already replaced coming back means it leaked: the whole family is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from samtykke.domain.access import Permission, Role, Scope, parse_grants
from samtykke.domain.errors import Unauthorized
from samtykke.domain.tokens import b64url, unb64url

ACCESS_PREFIX = "sts_"
REFRESH_PREFIX = "rt_"
ACCESS_TTL_SECONDS = 15 * 60
ENROLMENT_TTL_SECONDS = 10 * 60
SESSION_MAX_SECONDS = 12 * 3600  # a login's refresh family lives at most this long, however often refreshed
_DOMAIN = b"samtykke/session/v1\x00"
_MAX_TOKEN_LENGTH = 4096
_ID = re.compile(r"^[a-z0-9_-]{1,80}$")


class InvalidSession(Unauthorized):
    code = "invalid_session"


@dataclass(frozen=True)
class SessionClaims:
    tenant_id: str
    user_id: str
    role: Role
    grants: frozenset[Permission]
    scope: Scope
    session_epoch: int
    authz_version: int
    family_id: str | None
    issued_at: int
    expires_at: int
    token_id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    amr: tuple[str, ...] = ("pwd",)

    def to_payload(self) -> dict[str, Any]:
        return {
            "t": self.tenant_id,
            "u": self.user_id,
            "r": self.role.value,
            "g": sorted(g.value for g in self.grants),
            "sc": self.scope.value,
            "ep": self.session_epoch,
            "av": self.authz_version,
            "fam": self.family_id,
            "amr": list(self.amr),
            "iat": self.issued_at,
            "exp": self.expires_at,
            "jti": self.token_id,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SessionClaims:
        try:
            return cls(
                tenant_id=str(payload["t"]),
                user_id=str(payload["u"]),
                role=Role(payload["r"]),
                grants=parse_grants(payload.get("g") or []),
                scope=Scope(payload.get("sc", Scope.FULL.value)),
                session_epoch=int(payload["ep"]),
                authz_version=int(payload["av"]),
                family_id=payload.get("fam"),
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
                token_id=str(payload["jti"]),
                amr=tuple(str(a) for a in payload.get("amr") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidSession("The session token is malformed") from exc


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + payload, hashlib.sha256).digest()


def sign_access_token(key: bytes, claims: SessionClaims) -> str:
    payload = json.dumps(claims.to_payload(), separators=(",", ":"), sort_keys=True).encode()
    return f"{ACCESS_PREFIX}{b64url(payload)}.{b64url(_mac(key, payload))}"


def is_access_token(token: str) -> bool:
    return token.startswith(ACCESS_PREFIX)


def _split(token: str) -> tuple[bytes, bytes]:
    if not token.startswith(ACCESS_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidSession("Not a session token")
    try:
        payload_part, mac_part = token[len(ACCESS_PREFIX) :].split(".", 1)
        return unb64url(payload_part), unb64url(mac_part)
    except ValueError as exc:
        raise InvalidSession("The session token is malformed") from exc


def peek_access_token(token: str) -> SessionClaims:
    """The claims WITHOUT checking the signature: only to find whose key verifies it."""
    payload, _ = _split(token)
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSession("The session token is malformed") from exc
    if not isinstance(data, dict):
        raise InvalidSession("The session token is malformed")
    claims = SessionClaims.from_payload(data)
    if not _ID.match(claims.tenant_id) or not _ID.match(claims.user_id):
        raise InvalidSession("The session token is malformed")
    return claims


def verify_access_token(key: bytes, token: str, *, now: int) -> SessionClaims:
    payload, mac = _split(token)
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidSession("The session token is not valid")
    claims = peek_access_token(token)
    if claims.expires_at <= now:
        raise InvalidSession("The session has expired", code="session_expired")
    return claims


@dataclass(frozen=True)
class RefreshToken:
    tenant_id: str
    family_id: str
    secret: str

    def __str__(self) -> str:
        return f"{REFRESH_PREFIX}{self.tenant_id}.{self.family_id}.{self.secret}"

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def hash_secret(secret: str) -> str:
    """SHA-256 is enough for 256-bit random secrets: nothing to brute-force, and the lookup stays cheap."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_refresh_token(tenant_id: str, family_id: str) -> RefreshToken:
    return RefreshToken(tenant_id, family_id, secrets.token_urlsafe(32))


def parse_refresh_token(token: str) -> RefreshToken:
    invalid = Unauthorized("The refresh token is not valid", code="invalid_refresh_token")
    if not token.startswith(REFRESH_PREFIX) or len(token) > 512:
        raise invalid
    parts = token[len(REFRESH_PREFIX) :].split(".")
    if len(parts) != 3 or not all(parts) or not _ID.match(parts[0]) or not _ID.match(parts[1]):
        raise invalid
    return RefreshToken(parts[0], parts[1], parts[2])


def new_one_time_token(prefix: str, tenant_id: str) -> tuple[str, str]:
    """An emailed one-time token (`prt_<tenant>.<secret>`) and the hash to store."""
    secret = secrets.token_urlsafe(32)
    return f"{prefix}{tenant_id}.{secret}", hash_secret(secret)


def parse_one_time_token(prefix: str, token: str) -> tuple[str, str] | None:
    """(tenant, secret hash), or None if it is not one of ours."""
    if not token.startswith(prefix) or len(token) > 512:
        return None
    tenant_id, _, secret = token[len(prefix) :].partition(".")
    if not _ID.match(tenant_id) or len(secret) < 20:
        return None
    return tenant_id, hash_secret(secret)


MFA_METHODS = frozenset({"otp", "recovery"})


class MfaRequiredByPolicy(Unauthorized):
    code = "mfa_required"


def check_session_policy(amr: tuple[str, ...], *, full_scope: bool, mfa_required: bool) -> None:
    """A full session (or its refresh) made without a second factor ends the moment the tenant requires MFA.

    An enrolment-only session is what such a user gets to enrol one, so it stays."""
    if mfa_required and full_scope and not MFA_METHODS & set(amr):
        raise MfaRequiredByPolicy("Your organisation now requires multi-factor login: log in again with a code")
