"""The recipient filter, as properties over random consent histories: nobody without a valid basis is selected.

The histories are built from the capture rules themselves (double opt-in, minors, confirmations, withdrawals), and
the oracle that says whether a history leaves a valid basis is written here, independently of the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samtykke.domain.audience import (
    COMPLIANCE_REASONS,
    CampaignRules,
    ContactFacts,
    Excluded,
    ExclusionReason,
    Included,
    eligibility,
)
from samtykke.domain.consent import Channel, ConsentStatus, can_confirm, capture_status
from samtykke.domain.suppression import BLOCKS_TRANSACTIONAL, SuppressionReason

pytestmark = pytest.mark.unit

PURPOSE = "e-marketing"


@dataclass(frozen=True)
class Step:
    kind: str  # "capture", "confirm", "parent_confirm", "withdraw"
    double_opt_in: bool = False
    minor: bool = False


steps = st.one_of(
    st.builds(Step, st.just("capture"), st.booleans(), st.booleans()),
    st.builds(Step, st.sampled_from(["confirm", "parent_confirm", "withdraw"])),
)


def replay(channel: Channel, history: list[Step]) -> ConsentStatus | None:
    """The state the ledger ends in: each step decided by the same rules capture and confirmation use."""
    status: ConsentStatus | None = None
    for step in history:
        if step.kind == "capture":
            captured = capture_status(channel=channel, double_opt_in=step.double_opt_in, is_minor=step.minor)
            status = ConsentStatus.GRANTED if status is ConsentStatus.GRANTED else captured
        elif (step.kind == "confirm" and can_confirm(status)) or (
            step.kind == "parent_confirm" and status is ConsentStatus.PENDING_PARENTAL
        ):
            status = ConsentStatus.GRANTED
        elif step.kind == "withdraw" and status is not None:
            status = ConsentStatus.WITHDRAWN
    return status


def has_valid_basis(channel: Channel, history: list[Step]) -> bool:
    """The oracle: after the last withdrawal, was there a grant that needed no confirmation, or one that got it?"""
    basis = False
    waiting: str | None = None  # what the last capture still waits for
    for step in history:
        if step.kind == "withdraw":
            basis, waiting = False, None
        elif step.kind == "capture" and not basis:
            if step.minor:
                waiting = "parent"
            elif step.double_opt_in and channel in (Channel.EMAIL, Channel.SMS):  # the link, or a JA/YES reply
                waiting = "confirm"
            else:
                basis, waiting = True, None
        elif (step.kind, waiting) in (("confirm", "confirm"), ("parent_confirm", "parent")):
            basis, waiting = True, None
    return basis


reasons = st.sampled_from([r.value for r in SuppressionReason] + ["something-new"])
keys = st.sampled_from(["email#*", f"email#{PURPOSE}", "email#other", "sms#*", f"sms#{PURPOSE}", "phone#*"])
suppression_maps = st.dictionaries(keys, st.builds(lambda r: {"reason": r, "at": "2026-11-23T10:00:00+00:00"}, reasons))
facts = st.builds(ContactFacts, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())


def blocking(suppressions: dict[str, Any], channel: Channel, *, transactional: bool) -> bool:
    relevant = [
        r["reason"] for k, r in suppressions.items() if k in (f"{channel.value}#*", f"{channel.value}#{PURPOSE}")
    ]
    if not transactional:
        return bool(relevant)
    known = {r.value for r in SuppressionReason}
    return any(r not in known or SuppressionReason(r) in BLOCKS_TRANSACTIONAL for r in relevant)


@settings(max_examples=500, deadline=None)
@given(
    history=st.lists(steps, max_size=8),
    channel=st.sampled_from([Channel.EMAIL, Channel.SMS]),
    suppressions=suppression_maps,
    contact=facts,
    transactional=st.booleans(),
)
def test_nobody_without_a_valid_basis_is_ever_selected(
    history: list[Step], channel: Channel, suppressions: dict[str, Any], contact: ContactFacts, transactional: bool
) -> None:
    status = replay(channel, history)
    decision = eligibility(status, suppressions, contact, CampaignRules(PURPOSE, channel, transactional))

    if isinstance(decision, Included):
        # a marketing message rests on a consent the history still holds; any message needs a reachable, unerased
        # contact in the segment, and no suppression that applies to it
        assert transactional or has_valid_basis(channel, history)
        assert transactional or status is ConsentStatus.GRANTED
        assert not contact.erased
        assert contact.has_address
        assert contact.in_segment
        assert not blocking(suppressions, channel, transactional=transactional)
        assert decision.minor == contact.minor
        # a minor is messaged for marketing only on a parent's confirmation (GDPR Art. 8)
        assert transactional or not contact.minor or contact.parental_consent
    else:
        assert isinstance(decision, Excluded)


@settings(max_examples=300, deadline=None)
@given(
    history=st.lists(steps, max_size=8),
    channel=st.sampled_from([Channel.EMAIL, Channel.SMS]),
    suppressions=suppression_maps,
    contact=facts,
    transactional=st.booleans(),
)
def test_everyone_with_a_valid_basis_and_nothing_against_them_is_selected(
    history: list[Step], channel: Channel, suppressions: dict[str, Any], contact: ContactFacts, transactional: bool
) -> None:
    status = replay(channel, history)
    decision = eligibility(status, suppressions, contact, CampaignRules(PURPOSE, channel, transactional))

    eligible = (
        (transactional or has_valid_basis(channel, history))
        and not contact.erased
        and contact.has_address
        and contact.in_segment
        and not blocking(suppressions, channel, transactional=transactional)
        and (transactional or not contact.minor or contact.parental_consent)  # GDPR Art. 8, as the test above says
    )
    assert isinstance(decision, Included) == eligible


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (None, ExclusionReason.NO_CONSENT),
        (ConsentStatus.WITHDRAWN, ExclusionReason.WITHDRAWN),
        (ConsentStatus.PENDING, ExclusionReason.PENDING_DOUBLE_OPT_IN),
        (ConsentStatus.PENDING_PARENTAL, ExclusionReason.PENDING_PARENTAL),
    ],
)
def test_each_missing_basis_has_its_own_reason(status: ConsentStatus | None, reason: ExclusionReason) -> None:
    assert eligibility(status, {}, ContactFacts(), CampaignRules(PURPOSE, Channel.EMAIL)) == Excluded(reason)


@pytest.mark.parametrize("reason", list(SuppressionReason))
def test_each_suppression_has_its_own_reason_and_transactional_sends_honour_only_the_hard_ones(
    reason: SuppressionReason,
) -> None:
    suppressions = {"email#*": {"reason": reason.value}}
    granted = ConsentStatus.GRANTED

    marketing = eligibility(granted, suppressions, ContactFacts(), CampaignRules(PURPOSE, Channel.EMAIL))
    transactional = eligibility(granted, suppressions, ContactFacts(), CampaignRules(PURPOSE, Channel.EMAIL, True))

    assert marketing == Excluded(ExclusionReason(f"suppressed_{reason.value}"))
    assert isinstance(transactional, Excluded) == (reason in BLOCKS_TRANSACTIONAL)


def test_an_unreadable_suppression_blocks_even_a_transactional_send() -> None:
    for record in ({"reason": "from-the-future"}, {"no-reason": True}, "garbage"):
        decision = eligibility(
            ConsentStatus.GRANTED, {"email#*": record}, ContactFacts(), CampaignRules(PURPOSE, Channel.EMAIL, True)
        )
        assert decision == Excluded(ExclusionReason.SUPPRESSED_MANUAL)


def test_an_erased_contact_is_excluded_as_erased_before_anything_else() -> None:
    decision = eligibility(ConsentStatus.WITHDRAWN, {}, ContactFacts(erased=True), CampaignRules(PURPOSE, Channel.SMS))
    assert decision == Excluded(ExclusionReason.ERASED_CONTACT)


def test_being_outside_the_segment_or_unreachable_carries_no_fine() -> None:
    assert ExclusionReason.NOT_IN_SEGMENT not in COMPLIANCE_REASONS
    assert ExclusionReason.NO_ADDRESS not in COMPLIANCE_REASONS
    assert ExclusionReason.WITHDRAWN in COMPLIANCE_REASONS
