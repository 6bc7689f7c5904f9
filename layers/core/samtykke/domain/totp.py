"""TOTP (RFC 6238) verification with a +-1 step window that reports WHICH step matched, and recovery codes.

pyotp's `verify()` is stateless: it accepts the same code twice. `match_timecode` returns the time step a
code belongs to, and the caller stores the last accepted step with a conditional write (`last < step`), so a
code, or any code of an earlier step, is refused once a step has been used. Pure: pyotp and hashlib only.

Defaults are what every authenticator app and hardware OATH token speaks: SHA-1, 6 digits, 30 s.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote

# pyotp is imported on first use: most requests that load this module (logins without MFA, the admin API) never
# generate a code.

PERIOD = 30
DIGITS = 6
WINDOW = 1  # steps either side of now
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation; 32 base32 characters
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
RECOVERY_LENGTH = 10  # about 50 bits each, shown as xxxxx-xxxxx


def new_secret() -> str:
    import pyotp

    return pyotp.random_base32(length=32)


def timecode(at: float, period: int = PERIOD) -> int:
    return int(at // period)


def code_at(secret: str, step: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    import pyotp

    return pyotp.TOTP(secret, digits=digits, digest=getattr(hashlib, digest)).generate_otp(step)


def match_timecode(
    secret: str,
    code: str,
    at: float,
    *,
    after: int | None = None,
    window: int = WINDOW,
    digits: int = DIGITS,
    digest: str = "sha1",
    period: int = PERIOD,
) -> int | None:
    """The time step (within +-window of `at`) whose code is `code`, or None. Steps <= `after` never match."""
    candidate = "".join(code.split())
    if len(candidate) != digits or not candidate.isdigit():
        return None
    now = timecode(at, period)
    found = None
    for step in range(now - window, now + window + 1):
        expected = code_at(secret, step, digits=digits, digest=digest)
        if hmac.compare_digest(expected, candidate) and (after is None or step > after):
            found = step  # no early exit: the same work whichever step matches
    return found


def otpauth_uri(secret: str, *, account: str, issuer: str) -> str:
    """The `otpauth://totp/...` URI authenticator apps read from the QR code (Key Uri Format)."""
    label = quote(f"{issuer}:{account}", safe="@:")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
    )


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def recovery_code_hash(key: bytes, user_id: str, code: str) -> str:
    """A keyed hash: the codes carry ~50 bits, so a plain hash of a leaked table would be worth brute-forcing."""
    message = f"{user_id}|{normalise_recovery_code(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def looks_like_totp(code: str) -> bool:
    compact = "".join(code.split())
    return compact.isdigit() and len(compact) == DIGITS
