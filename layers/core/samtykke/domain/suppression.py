"""Suppressions: addresses that must not be messaged, whatever their consents say.

A suppression is kept on the address (by its blind index), not on the contact, so it also covers a number
that matches no contact (an SMS STOP from a stranger) and outlives erasure: a later import can never
message that person again. Its key is `{channel}#{purpose}`, or `{channel}#*` for every purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from samtykke.domain.consent import Channel

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
