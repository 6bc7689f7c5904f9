"""Pacing campaign email to the SES account's limits: a token bucket per sender container, and the ETA.

SES limits the account, not a function: `MaxSendRate` messages a second and `Max24HourSend` in any 24 hours
(`GetAccount`'s `SendQuota`; a new production account has 14 a second and 50,000 a day). The campaign queue's event
source runs at most `concurrency` senders at once, so each takes an equal share of the rate; the day's quota is
shared by reading what the account has sent (`SentLast24Hours`) again every minute. A sender therefore never sends
faster than SES accepts: it waits its turn while the wait fits in its invocation, and otherwise puts the rest of the
chunk back on the queue, delayed until its tokens are there (`retry_delay`), without spending a receive
(services/campaign_sender.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY_SECONDS = 86_400
MAX_DELAY_SECONDS = 900  # SQS DelaySeconds' limit: a chunk waiting out the day's quota comes back this often


@dataclass(frozen=True)
class SendQuota:
    """The account's limits and use, as SES reported them."""

    max_send_rate: float  # messages a second
    max_24_hour_send: float  # messages in any 24 hours; SES answers -1 for unlimited
    sent_last_24_hours: float

    @property
    def unlimited_daily(self) -> bool:
        return self.max_24_hour_send < 0

    @property
    def daily_left(self) -> float:
        return math.inf if self.unlimited_daily else max(0.0, self.max_24_hour_send - self.sent_last_24_hours)


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up; one token is one message."""

    rate: float
    capacity: float
    tokens: float
    updated: float  # monotonic seconds

    @classmethod
    def share(cls, quota: SendQuota, concurrency: int, now: float) -> TokenBucket:
        """This container's equal share of the account's rate; it starts empty-handed but for one second's worth."""
        rate = max(quota.max_send_rate / max(1, concurrency), 0.001)
        return cls(rate=rate, capacity=max(1.0, rate), tokens=max(1.0, rate), updated=now)

    def batch(self) -> int:
        """The most messages worth sending in one call: what one second of this share allows, at least one."""
        return max(1, math.floor(self.capacity))

    def take(self, n: int, now: float) -> float:
        """Takes `n` tokens and answers 0, or takes nothing and answers the seconds until `n` are there."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


def eta_seconds(remaining: int, quota: SendQuota) -> float:
    """How long `remaining` messages take at the account's pace: its rate, and the daily quota once today's is used."""
    if remaining <= 0:
        return 0.0
    rate = max(quota.max_send_rate, 0.001)
    if remaining <= quota.daily_left:
        return remaining / rate
    # Today's quota goes out now; the rest waits for the rolling 24-hour window, a day's quota at a time.
    later = remaining - quota.daily_left
    per_day = max(quota.max_24_hour_send, 1.0)
    days = math.ceil(later / per_day)
    last = later - (days - 1) * per_day
    return days * DAY_SECONDS + last / rate


def retry_delay(wait_seconds: float) -> int:
    """The DelaySeconds for a chunk whose tokens come after `wait_seconds`: at least 1, at most SQS's 900."""
    return int(min(MAX_DELAY_SECONDS, max(1, math.ceil(wait_seconds))))
