"""Staff passwords: scrypt (RFC 7914), salted and memory-hard. Pure: hashlib only.

Stored as `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`, so the parameters travel with each hash and can be
raised later: `needs_rehash` tells the login to re-hash with the current ones.

Parameters: n = 2**15, r = 8, p = 3, a 16-byte random salt, a 32-byte key. OWASP's password storage cheat sheet
lists (n, r, p) = (2**17, 8, 1), (2**16, 8, 2), (2**15, 8, 3), ... as equivalent minimums; we take the one whose
memory (128 * r * n = 32 MiB) suits a Lambda function. One hash takes about 0.2-0.3 s on one vCPU. Raise them
here; old hashes keep verifying and are re-hashed at the next login (`needs_rehash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

from samtykke.domain.errors import InvalidInput

N = 2**15
R = 8
P = 3
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEMORY = 64 * 1024 * 1024  # hashlib's default cap (32 MiB) is exactly 128 * r * n; leave headroom

MIN_LENGTH = 12
MAX_LENGTH = 256  # scrypt pre-hashes with PBKDF2, so long inputs are cheap; the cap bounds request bodies


class WeakPassword(InvalidInput):
    code = "weak_password"


@dataclass(frozen=True)
class ScryptParams:
    n: int = N
    r: int = R
    p: int = P


CURRENT = ScryptParams()


class CommonPassword(WeakPassword):
    code = "password_too_common"


class PasswordContainsIdentity(WeakPassword):
    code = "password_contains_identity"


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of public breach corpora, as zxcvbn ships them (lower case)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # a 1 MB module: only where a password is set

    return frozenset(FREQUENCY_LISTS["passwords"])


def _is_common(password: str) -> bool:
    """On the list as typed or lower-cased, or once the digits and symbols at its end are dropped (`password1234`)."""
    lowered = password.lower()
    stem = lowered.rstrip("0123456789!@#$%^&*()-_=+.?,;:")
    common = common_passwords()
    return lowered in common or (len(stem) >= 4 and stem in common and len(set(stem)) > 2 and stem != lowered)


def _identity_parts(email: str | None, tenant_names: tuple[str, ...]) -> list[str]:
    parts: list[str] = []
    if email:
        local, _, domain = email.lower().partition("@")
        parts += [email.lower(), local, domain.split(".")[0]]
    for name in tenant_names:
        lowered = name.lower()
        parts += [lowered, lowered.replace(" ", ""), *lowered.replace("/", " ").split()]
    return [p for p in dict.fromkeys(parts) if len(p) >= 4]


def check_policy(password: str, *, email: str | None = None, tenant_names: tuple[str, ...] = ()) -> None:
    """NIST SP 800-63B: length, not composition rules.

    At least 12 characters and at most 256, more than a few distinct ones; not on the list of common passwords
    (`password_too_common`); not containing the user's email, its local part or domain name, or the tenant's name
    or id (`password_contains_identity`), case-insensitively.
    """
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"A password has at most {MAX_LENGTH} characters")
    if len(set(password)) < 4:
        raise WeakPassword("A password needs more than a few distinct characters")
    if _is_common(password):
        raise CommonPassword("That password is on a list of common passwords; choose another")
    lowered = password.lower()
    if any(part in lowered for part in _identity_parts(email, tenant_names)):
        raise PasswordContainsIdentity("A password must not contain your email address or the organisation's name")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=MAX_MEMORY, dklen=KEY_BYTES
    )


def hash_password(password: str, params: ScryptParams | None = None) -> str:
    params = params or CURRENT
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, params)
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return None
        return ScryptParams(int(n), int(r), int(p)), base64.b64decode(salt), base64.b64decode(key)
    except ValueError:
        return None


# A real hash of a random password, verified when there is no user, so that an unknown email takes as long
# as a wrong password (no user enumeration by timing).
@cache
def _dummy(params: ScryptParams) -> str:
    return hash_password(base64.b64encode(os.urandom(18)).decode(), params)


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check. With `stored=None` (no such user, or no password set yet) it burns the same time."""
    dummy = _dummy(CURRENT)
    parsed = _parse(stored or dummy) or _parse(dummy)
    assert parsed is not None
    params, salt, expected = parsed
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    actual = _derive(password, salt, params)
    return stored is not None and hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed[0] != CURRENT
