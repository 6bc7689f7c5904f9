"""The SES pacing rules: a container's share of the account's rate, its token bucket, and the campaign's ETA."""

from __future__ import annotations

import pytest

from samtykke.domain.pacing import DAY_SECONDS, SendQuota, TokenBucket, eta_seconds, retry_delay

pytestmark = pytest.mark.unit

NEW_ACCOUNT = SendQuota(max_send_rate=14, max_24_hour_send=50_000, sent_last_24_hours=0)


def test_each_sender_takes_an_equal_share_of_the_accounts_rate() -> None:
    bucket = TokenBucket.share(NEW_ACCOUNT, concurrency=2, now=0.0)
    assert bucket.rate == 7
    assert bucket.batch() == 7  # one second's worth per call


def test_the_bucket_answers_the_wait_and_takes_nothing_until_the_tokens_are_there() -> None:
    bucket = TokenBucket.share(NEW_ACCOUNT, concurrency=2, now=0.0)
    assert bucket.take(7, now=0.0) == 0  # the first second's worth at once
    assert bucket.take(7, now=0.5) == pytest.approx(0.5)  # 3.5 saved up: half a second to go
    assert bucket.take(7, now=1.0) == 0
    assert bucket.take(1, now=1.0) == pytest.approx(1 / 7)


def test_idle_time_saves_up_at_most_one_seconds_worth() -> None:
    bucket = TokenBucket.share(NEW_ACCOUNT, concurrency=1, now=0.0)
    bucket.take(14, now=0.0)
    assert bucket.take(14, now=60.0) == 0
    assert bucket.take(1, now=60.0) > 0  # a minute's idleness did not buy a burst


def test_a_slow_account_still_sends_one_at_a_time() -> None:
    sandbox = SendQuota(max_send_rate=1, max_24_hour_send=200, sent_last_24_hours=0)
    bucket = TokenBucket.share(sandbox, concurrency=2, now=0.0)
    assert bucket.batch() == 1
    assert bucket.take(1, now=0.0) == 0
    assert bucket.take(1, now=0.0) == pytest.approx(2.0)


def test_the_daily_quota_left_and_unlimited_accounts() -> None:
    assert SendQuota(14, 50_000, 49_990).daily_left == 10
    assert SendQuota(14, 50_000, 60_000).daily_left == 0
    assert SendQuota(14, -1, 10**9).daily_left == float("inf")


def test_the_eta_at_the_rate_while_todays_quota_lasts() -> None:
    assert eta_seconds(0, NEW_ACCOUNT) == 0
    assert eta_seconds(1_400, NEW_ACCOUNT) == pytest.approx(100)


def test_the_eta_of_a_million_at_a_new_accounts_quota_is_twenty_days() -> None:
    # 50,000 today, then 50,000 a day: 19 more windows of 24 hours, the last one's 50,000 at 14 a second
    assert eta_seconds(1_000_000, NEW_ACCOUNT) == pytest.approx(19 * DAY_SECONDS + 50_000 / 14)


def test_the_eta_when_todays_quota_is_already_used() -> None:
    used = SendQuota(max_send_rate=10, max_24_hour_send=100, sent_last_24_hours=100)
    assert eta_seconds(50, used) == pytest.approx(DAY_SECONDS + 5)


def test_retry_delays_stay_within_sqs_limits() -> None:
    assert retry_delay(0.01) == 1
    assert retry_delay(12.2) == 13
    assert retry_delay(10**6) == 900
