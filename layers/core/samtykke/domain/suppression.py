"""Suppressions: addresses that must not be messaged, whatever their consents say.

A suppression is kept on the address (by its blind index), not on the contact, so it also covers a number
that matches no contact (an SMS STOP from a stranger) and outlives erasure: a later import can never
message that person again. Its key is `{channel}#{purpose}`, or `{channel}#*` for every purpose.

Staff may lift one (`lift_refusal` says when): a hard bounce or a manual suppression with a note; a complaint,
an unsubscribe or a STOP only once the person gave a new consent after it; an erasure or a do-not-contact entry
never (the latter leaves the do-not-contact list instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from samtykke.domain.consent import Channel, ConsentStatus, EventType

ALL_PURPOSES = "*"


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    SMS_STOP = "sms_stop"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    ERASED = "erased"
    DO_NOT_CONTACT = "do_not_contact"  # staff put the address on the do-not-contact list (services/governance)


# A transactional send skips marketing consent, but never these.
BLOCKS_TRANSACTIONAL = frozenset(
    {
        SuppressionReason.HARD_BOUNCE,
        SuppressionReason.COMPLAINT,
        SuppressionReason.ERASED,
        SuppressionReason.DO_NOT_CONTACT,
    }
)


def suppression_key(channel: Channel, purpose: str | None = None) -> str:
    return f"{channel.value}#{purpose or ALL_PURPOSES}"


def suppression_reason(
    suppressions: Mapping[str, Any], channel: Channel, purpose: str, *, transactional: bool = False
) -> SuppressionReason | None:
    """Why the address may not get this message, or None if nothing suppresses it."""
    for key in (suppression_key(channel), suppression_key(channel, purpose)):
        record = suppressions.get(key)
        if record is None:
            continue
        reason = SuppressionReason(record["reason"])
        if not transactional or reason in BLOCKS_TRANSACTIONAL:
            return reason
    return None


def lifted_erasure(record: Mapping[str, Any], contact_id: str, at: str) -> dict[str, Any]:
    """An `erased` suppression, lifted for one new contact whose owner confirmed a fresh consent (GDPR Art. 17 is
    no bar to coming back). It still blocks imports and every other contact, the erased one included."""
    return {**record, "lifted_for": contact_id, "lifted_at": at}


def for_contact(suppressions: Mapping[str, Any], contact_id: str) -> dict[str, Any]:
    """The suppressions that apply to messages for `contact_id`: an erasure lifted for it does not."""
    return {
        key: record
        for key, record in suppressions.items()
        if not (
            isinstance(record, Mapping)
            and record.get("reason") == SuppressionReason.ERASED
            and record.get("lifted_for") == contact_id
        )
    }


# The events by which a person gives consent; a basis change or a withdrawal is none.
CONSENT_EVENTS = frozenset({EventType.GRANT, EventType.CONFIRM, EventType.IMPORT})


@dataclass(frozen=True)
class LoggedChange:
    """One event of a contact's consent log, as far as lifting a suppression goes."""

    purpose: str
    channel: Channel
    type: EventType
    status: ConsentStatus
    at: datetime


@dataclass(frozen=True)
class LiftRefusal:
    code: str
    message: str


def split_key(key: str) -> tuple[Channel, str | None]:
    """A suppression key's channel and purpose (None: every purpose). Raises ValueError for a malformed key."""
    channel, _, purpose = key.partition("#")
    return Channel(channel), None if purpose in ("", ALL_PURPOSES) else purpose


def consented_since(log: Iterable[LoggedChange], key: str, since: datetime) -> bool:
    """Whether the log, in order, holds a consent given after `since` that still stands, on the key's channel and
    purpose (any purpose, for a key covering every purpose)."""
    channel, purpose = split_key(key)
    standing: dict[tuple[str, Channel], datetime] = {}
    for change in log:
        pair = (change.purpose, change.channel)
        if change.status is not ConsentStatus.GRANTED:
            standing.pop(pair, None)
        elif change.type in CONSENT_EVENTS:
            standing[pair] = change.at
    return any(
        at > since and state_channel is channel and purpose in (None, state_purpose)
        for (state_purpose, state_channel), at in standing.items()
    )


NEEDS_NEW_CONSENT: dict[SuppressionReason, LiftRefusal] = {
    SuppressionReason.COMPLAINT: LiftRefusal(
        "complaint_needs_new_consent",
        "A complaint is lifted only after the person gave a new consent: none is logged since the complaint",
    ),
    SuppressionReason.UNSUBSCRIBED: LiftRefusal(
        "new_grant_required",
        "An unsubscribe is lifted only by the person's new grant (a form, the preference centre, or one recorded on "
        "their behalf): none is logged since the unsubscribe",
    ),
    SuppressionReason.SMS_STOP: LiftRefusal(
        "new_grant_required",
        "A STOP is lifted only by the person's new grant (START by SMS, a form, or one recorded on their behalf): "
        "none is logged since the STOP",
    ),
}
NEVER_LIFTED: dict[SuppressionReason, LiftRefusal] = {
    SuppressionReason.ERASED: LiftRefusal(
        "erasure_not_liftable", "An erased person's address stays suppressed; only their own new sign-up lifts it"
    ),
    SuppressionReason.DO_NOT_CONTACT: LiftRefusal(
        "lift_through_do_not_contact_list",
        "This address is on the do-not-contact list: take it off there (DELETE /v1/admin/do-not-contact)",
    ),
}
LIFTED_WITH_A_NOTE = frozenset({SuppressionReason.HARD_BOUNCE, SuppressionReason.MANUAL})
UNREADABLE = LiftRefusal("suppression_not_liftable", "This suppression's record is unreadable: it cannot be lifted")


def lift_refusal(key: str, record: Mapping[str, Any], log: Iterable[LoggedChange]) -> LiftRefusal | None:
    """Why staff may not lift this suppression, or None if they may (with a note, which the caller requires)."""
    try:
        reason = SuppressionReason(str(record.get("reason")))
        split_key(key)
    except ValueError:
        return UNREADABLE
    if reason in LIFTED_WITH_A_NOTE:
        return None
    if reason in NEVER_LIFTED:
        return NEVER_LIFTED[reason]
    refusal = NEEDS_NEW_CONSENT.get(reason, UNREADABLE)
    try:
        since = datetime.fromisoformat(str(record.get("at")))
    except ValueError:
        return refusal  # no time to compare with: no consent can be shown to be newer
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return None if consented_since(log, key, since) else refusal
