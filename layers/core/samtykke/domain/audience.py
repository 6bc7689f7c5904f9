"""Who a campaign may reach: the one recipient filter (SuperOffice's), as a pure function.

`eligibility` decides for one contact, from facts the caller has already read: the contact's consent state for the
campaign's purpose and channel, the suppressions on the contact's address, a few facts about the contact, and the
campaign's own rules. The dry run and the sender both call it, so what a dry run predicts is what a send does.

The checks, in order (the first that fails names the reason):
1. the contact must not be erased;
2. consent: the state must be `granted` (skipped for a transactional campaign, which relies on another basis);
3. the contact must have an address on the channel;
4. no suppression may cover the address for this purpose and channel (a transactional campaign ignores
   unsubscribes and SMS STOPs, never hard bounces, complaints or erasure);
5. the contact must be in the campaign's segment.
A contact who passes is included; a minor among them is flagged, never silently sent to.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from samtykke.domain.consent import Channel, ConsentStatus
from samtykke.domain.suppression import SuppressionReason, suppression_reason

# The consent-state source that erasure writes (services/erasure.py ERASURE_SOURCE): an erased contact's states are
# withdrawn with it, so the index alone tells an erased contact from one who withdrew.
ERASURE_SOURCE = "erasure"


class ExclusionReason(StrEnum):
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    PENDING_DOUBLE_OPT_IN = "pending_double_opt_in"
    PENDING_PARENTAL = "pending_parental"
    # Granted, then found to be under the age of digital consent, with no parent's confirmation (GDPR Art. 8).
    MINOR_WITHOUT_PARENTAL_CONSENT = "minor_without_parental_consent"
    ERASED_CONTACT = "erased_contact"
    NO_ADDRESS = "no_address"
    SUPPRESSED_UNSUBSCRIBED = "suppressed_unsubscribed"
    SUPPRESSED_SMS_STOP = "suppressed_sms_stop"
    SUPPRESSED_HARD_BOUNCE = "suppressed_hard_bounce"
    SUPPRESSED_COMPLAINT = "suppressed_complaint"
    SUPPRESSED_MANUAL = "suppressed_manual"
    SUPPRESSED_ERASED = "suppressed_erased"
    SUPPRESSED_DO_NOT_CONTACT = "suppressed_do_not_contact"
    NOT_IN_SEGMENT = "not_in_segment"


_SUPPRESSED: dict[SuppressionReason, ExclusionReason] = {
    SuppressionReason.UNSUBSCRIBED: ExclusionReason.SUPPRESSED_UNSUBSCRIBED,
    SuppressionReason.SMS_STOP: ExclusionReason.SUPPRESSED_SMS_STOP,
    SuppressionReason.HARD_BOUNCE: ExclusionReason.SUPPRESSED_HARD_BOUNCE,
    SuppressionReason.COMPLAINT: ExclusionReason.SUPPRESSED_COMPLAINT,
    SuppressionReason.MANUAL: ExclusionReason.SUPPRESSED_MANUAL,
    SuppressionReason.ERASED: ExclusionReason.SUPPRESSED_ERASED,
    SuppressionReason.DO_NOT_CONTACT: ExclusionReason.SUPPRESSED_DO_NOT_CONTACT,
}

_BY_STATUS: dict[ConsentStatus, ExclusionReason] = {
    ConsentStatus.WITHDRAWN: ExclusionReason.WITHDRAWN,
    ConsentStatus.PENDING: ExclusionReason.PENDING_DOUBLE_OPT_IN,
    ConsentStatus.PENDING_PARENTAL: ExclusionReason.PENDING_PARENTAL,
}

# Sending to these anyway would have broken the rules (no basis, an objection, an erased person): they count towards
# the fine exposure of a dry run. Being outside the segment or having no address is no breach.
COMPLIANCE_REASONS: frozenset[ExclusionReason] = frozenset(ExclusionReason) - {
    ExclusionReason.NOT_IN_SEGMENT,
    ExclusionReason.NO_ADDRESS,
}


@dataclass(frozen=True)
class ContactFacts:
    """What the filter needs to know about a contact besides its consent and suppressions."""

    erased: bool = False
    has_address: bool = True
    minor: bool = False
    in_segment: bool = True
    parental_consent: bool = False  # a parent confirmed the consent the campaign relies on


@dataclass(frozen=True)
class CampaignRules:
    purpose: str
    channel: Channel
    transactional: bool = False


@dataclass(frozen=True)
class Included:
    minor: bool = False  # marketing to a minor (with parental confirmation): allowed, and flagged


@dataclass(frozen=True)
class Excluded:
    reason: ExclusionReason


Eligibility = Included | Excluded


def consent_exclusion(status: ConsentStatus | None) -> ExclusionReason | None:
    """Why this consent state is no basis for a marketing message, or None when it is (`granted`)."""
    if status is ConsentStatus.GRANTED:
        return None
    if status is None:
        return ExclusionReason.NO_CONSENT
    return _BY_STATUS.get(status, ExclusionReason.NO_CONSENT)


def suppression_exclusion(
    suppressions: Mapping[str, Any], channel: Channel, purpose: str, *, transactional: bool
) -> ExclusionReason | None:
    """The suppression that blocks the message, or None. A record this code cannot read blocks it (fails closed)."""
    try:
        reason = suppression_reason(suppressions, channel, purpose, transactional=transactional)
    except (KeyError, TypeError, ValueError):
        return ExclusionReason.SUPPRESSED_MANUAL
    return None if reason is None else _SUPPRESSED.get(reason, ExclusionReason.SUPPRESSED_MANUAL)


def eligibility(
    status: ConsentStatus | None,
    suppressions: Mapping[str, Any],
    contact: ContactFacts,
    campaign: CampaignRules,
) -> Eligibility:
    """Whether the campaign may message this contact now, and if not, the first reason why not."""
    if contact.erased:
        return Excluded(ExclusionReason.ERASED_CONTACT)
    if not campaign.transactional:
        no_basis = consent_exclusion(status)
        if no_basis is not None:
            return Excluded(no_basis)
        if contact.minor and not contact.parental_consent:
            return Excluded(ExclusionReason.MINOR_WITHOUT_PARENTAL_CONSENT)
    if not contact.has_address:
        return Excluded(ExclusionReason.NO_ADDRESS)
    suppressed = suppression_exclusion(
        suppressions, campaign.channel, campaign.purpose, transactional=campaign.transactional
    )
    if suppressed is not None:
        return Excluded(suppressed)
    if not contact.in_segment:
        return Excluded(ExclusionReason.NOT_IN_SEGMENT)
    return Included(minor=contact.minor)
