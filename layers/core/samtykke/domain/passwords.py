"""Staff passwords: scrypt (RFC 7914), salted and memory-hard. Pure: hashlib only.

Stored as `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`, so the parameters travel with each hash and can be
raised later: `needs_rehash` tells the login to re-hash with the current ones.

Parameters: n = 2**15, r = 8, p = 1, a 16-byte random salt, a 32-byte key. scrypt needs 128 * r * n bytes
of memory = 32 MiB per hash, and takes about 50-100 ms on one Lambda vCPU: OWASP's minimum for scrypt is
n = 2**17 with r = 8 (128 MiB); we trade that for a 512 MiB function at the same work factor as their
second line (n = 2**15 with r = 8, p = 3 costs 3x the time at the same memory). Raise `N` here when the
functions get more memory; old hashes keep verifying and are upgraded at the next login.
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
P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEMORY = 64 * 1024 * 1024  # hashlib's default cap (32 MiB) is exactly our need; leave headroom

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


def check_policy(password: str) -> None:
    """At least 12 characters, at most 256, not all one character. Length beats composition rules (NIST 800-63B)."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"A password has at most {MAX_LENGTH} characters")
    if len(set(password)) < 4:
        raise WeakPassword("A password needs more than a few distinct characters")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=MAX_MEMORY, dklen=KEY_BYTES
    )


def hash_password(password: str, params: ScryptParams = CURRENT) -> str:
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
def _dummy() -> str:
    return hash_password(base64.b64encode(os.urandom(18)).decode())


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check. With `stored=None` (no such user, or no password set yet) it burns the same time."""
    parsed = _parse(stored or _dummy()) or _parse(_dummy())
    assert parsed is not None
    params, salt, expected = parsed
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    actual = _derive(password, salt, params)
    return stored is not None and hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed[0] != CURRENT
