"""When staff may lift a suppression: `domain.suppression.lift_refusal`, per reason. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from samtykke.domain.consent import Channel, ConsentStatus, EventType
from samtykke.domain.suppression import LoggedChange, SuppressionReason, lift_refusal

pytestmark = pytest.mark.unit

SUPPRESSED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BEFORE, AFTER = SUPPRESSED_AT - timedelta(days=30), SUPPRESSED_AT + timedelta(days=1)


def record(reason: SuppressionReason, at: datetime | str = SUPPRESSED_AT) -> dict[str, str]:
    return {"reason": reason.value, "at": at if isinstance(at, str) else at.isoformat()}


def granted(at: datetime, purpose: str = "e-marketing", channel: Channel = Channel.EMAIL) -> LoggedChange:
    return LoggedChange(purpose, channel, EventType.GRANT, ConsentStatus.GRANTED, at)


def withdrawn(at: datetime, purpose: str = "e-marketing") -> LoggedChange:
    return LoggedChange(purpose, Channel.EMAIL, EventType.WITHDRAW, ConsentStatus.WITHDRAWN, at)


def code(key: str, reason: SuppressionReason, log: list[LoggedChange], at: datetime | str = SUPPRESSED_AT) -> str:
    refusal = lift_refusal(key, record(reason, at), log)
    return "liftable" if refusal is None else refusal.code


@pytest.mark.parametrize("reason", [SuppressionReason.HARD_BOUNCE, SuppressionReason.MANUAL])
def test_a_hard_bounce_or_a_manual_suppression_is_lifted_by_staff_without_a_new_consent(
    reason: SuppressionReason,
) -> None:
    assert code("email#*", reason, []) == "liftable"


def test_a_complaint_is_never_lifted_without_a_consent_given_after_it() -> None:
    assert code("email#*", SuppressionReason.COMPLAINT, []) == "complaint_needs_new_consent"
    assert code("email#*", SuppressionReason.COMPLAINT, [granted(BEFORE)]) == "complaint_needs_new_consent"
    assert code("email#*", SuppressionReason.COMPLAINT, [granted(AFTER)]) == "liftable"


def test_a_consent_on_another_channel_or_one_withdrawn_again_does_not_lift_a_complaint() -> None:
    by_sms = [granted(AFTER, channel=Channel.SMS)]
    assert code("email#*", SuppressionReason.COMPLAINT, by_sms) == "complaint_needs_new_consent"
    taken_back = [granted(AFTER), withdrawn(AFTER + timedelta(hours=1))]
    assert code("email#*", SuppressionReason.COMPLAINT, taken_back) == "complaint_needs_new_consent"


def test_a_basis_change_after_the_complaint_is_no_new_consent() -> None:
    basis_change = LoggedChange("e-marketing", Channel.EMAIL, EventType.BASIS_CHANGE, ConsentStatus.GRANTED, AFTER)
    assert (
        code("email#*", SuppressionReason.COMPLAINT, [granted(BEFORE), basis_change]) == "complaint_needs_new_consent"
    )


@pytest.mark.parametrize(
    ("key", "reason", "channel"),
    [
        ("email#e-marketing", SuppressionReason.UNSUBSCRIBED, Channel.EMAIL),
        ("sms#*", SuppressionReason.SMS_STOP, Channel.SMS),
    ],
)
def test_an_unsubscribe_or_a_stop_is_lifted_only_by_a_new_grant(
    key: str, reason: SuppressionReason, channel: Channel
) -> None:
    assert code(key, reason, [granted(BEFORE, channel=channel)]) == "new_grant_required"
    assert code(key, reason, [granted(AFTER, channel=channel)]) == "liftable"


def test_a_purpose_scoped_unsubscribe_needs_a_new_grant_of_that_purpose() -> None:
    other_purpose = [granted(AFTER, purpose="newsletter")]
    assert code("email#e-marketing", SuppressionReason.UNSUBSCRIBED, other_purpose) == "new_grant_required"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (SuppressionReason.ERASED, "erasure_not_liftable"),
        (SuppressionReason.DO_NOT_CONTACT, "lift_through_do_not_contact_list"),
    ],
)
def test_an_erasure_or_a_do_not_contact_entry_is_never_lifted_here(reason: SuppressionReason, expected: str) -> None:
    assert code("email#*", reason, [granted(AFTER)]) == expected


def test_an_unreadable_record_or_time_is_never_lifted() -> None:
    assert lift_refusal("email#*", {"reason": "mystery"}, []) is not None
    assert lift_refusal("fax#*", record(SuppressionReason.HARD_BOUNCE), []) is not None
    assert code("email#*", SuppressionReason.COMPLAINT, [granted(AFTER)], at="yesterday") == (
        "complaint_needs_new_consent"
    )


def test_every_reason_has_a_rule() -> None:
    for reason in SuppressionReason:
        refusal = lift_refusal("email#*", record(reason), [])
        assert refusal is None or refusal.code != "suppression_not_liftable", reason
