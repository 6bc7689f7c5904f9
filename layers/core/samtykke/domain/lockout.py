"""Lockout and backoff after failed logins and MFA attempts. Pure: the counters live in DynamoDB.

- account, keyed on a keyed hash of the email (known or not, so lockout answers the same for both): 5 failures
  in a row lock it for 60 s; each further failure doubles the lock, up to 15 min. A success resets it. The
  counter expires 24 h after its last failure. 401 `locked` with `Retry-After`.
- IP address, keyed on a keyed hash of the client IP: 30 failures in a 15-minute window answer 429
  `rate_limited` until the window ends.
- MFA step-up (`/me/mfa/verify`, `/me/mfa/disable`) and password change, per user: as the account counter.
- password-reset emails, per email: at most 3 an hour; more are dropped silently (the answer is the same).
"""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT_THRESHOLD = 5
BASE_LOCK_SECONDS = 60
MAX_LOCK_SECONDS = 15 * 60
ACCOUNT_COUNTER_TTL_SECONDS = 24 * 3600

IP_WINDOW_SECONDS = 15 * 60
IP_MAX_FAILURES = 30

RESET_WINDOW_SECONDS = 3600
RESET_MAX_PER_WINDOW = 3


def lock_seconds(failures: int) -> int:
    """How long the account stays locked after its `failures`-th failure in a row (0: not locked)."""
    if failures < ACCOUNT_THRESHOLD:
        return 0
    return min(MAX_LOCK_SECONDS, BASE_LOCK_SECONDS * 2 ** (failures - ACCOUNT_THRESHOLD))


def window_start(now: int, window_seconds: int) -> int:
    return now - now % window_seconds


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def account_verdict(locked_until: int | None, now: int) -> Verdict:
    if locked_until and locked_until > now:
        return Verdict(False, locked_until - now)
    return Verdict(True)


def ip_verdict(failures_in_window: int, now: int) -> Verdict:
    if failures_in_window >= IP_MAX_FAILURES:
        return Verdict(False, window_start(now, IP_WINDOW_SECONDS) + IP_WINDOW_SECONDS - now)
    return Verdict(True)
