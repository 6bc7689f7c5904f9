"""Reading what the recipient filter needs for a batch of contacts, in as few calls as DynamoDB allows.

Both the dry run and the sender call `evaluate`, so a dry run predicts exactly what a send does:
1. one BatchGetItem pass (100 keys a call, strongly consistent) for each contact's profile, its consent state for the
   campaign's purpose and channel, and its consent states for the segment's interests (the sender learns of its send
   claims from the claim transaction itself, not here);
2. one BatchGetItem pass for the address items (the suppressions), found by the blind index on the profile;
3. `domain.audience.eligibility` for each contact. Profiles are decrypted only for contacts that can still be
   included (the address and birth date live sealed in them), never logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from samtykke.adapters.campaign_repository import CampaignRepository, Key
from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.repository import ADDR, PROFILE, address_pk, contact_pk, state_sk
from samtykke.domain.age import is_minor
from samtykke.domain.audience import (
    ERASURE_SOURCE,
    CampaignRules,
    ContactFacts,
    Eligibility,
    Included,
    consent_exclusion,
    eligibility,
)
from samtykke.domain.consent import CHANNEL_ADDRESS, Channel, ConsentStatus
from samtykke.domain.links import HeadHint
from samtykke.domain.suppression import for_contact
from samtykke.models.campaign import MessageContent, Segment
from samtykke.models.consent import ContactProfile
from samtykke.services.ledger import open_profile
from samtykke.services.links import head_hint


@dataclass(frozen=True)
class CampaignPlan:
    """What sending needs to know about a campaign, read from its item."""

    tenant_id: str
    campaign_id: str
    name: str
    purpose: str
    channel: Channel
    transactional: bool
    unsubscribe_link: bool
    content: dict[str, MessageContent]
    segment: Segment | None
    status: str
    base_url: str | None

    @property
    def rules(self) -> CampaignRules:
        return CampaignRules(self.purpose, self.channel, self.transactional)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> CampaignPlan:
        segment = item.get("segment")
        return cls(
            tenant_id=item["tenant_id"],
            campaign_id=item["campaign_id"],
            name=item["name"],
            purpose=item["purpose"],
            channel=Channel(item["channel"]),
            transactional=bool(item.get("transactional")),
            unsubscribe_link=bool(item.get("unsubscribe_link", True)),
            content={locale: MessageContent.model_validate(c) for locale, c in item["content"].items()},
            segment=Segment.model_validate(segment) if segment else None,
            status=item["status"],
            base_url=item.get("base_url"),
        )


@dataclass(frozen=True)
class Recipient:
    contact_id: str
    decision: Eligibility
    status: ConsentStatus | None
    event_id: str | None  # the consent event the state rests on: the basis a send relies on
    profile: ContactProfile | None  # decrypted only when the contact can be included
    head: HeadHint | None = None  # the contact's log head as read here, for its unsubscribe link


def _status(item: dict[str, Any] | None) -> ConsentStatus | None:
    if item is None:
        return None
    try:
        return ConsentStatus(item["status"])
    except (KeyError, ValueError):
        return None


def _in_segment(plan: CampaignPlan, profile_item: dict[str, Any], interests: dict[str, dict[str, Any] | None]) -> bool:
    segment = plan.segment
    if segment is None:
        return True
    if segment.locales and profile_item.get("locale") not in segment.locales:
        return False
    return all(_status(interests.get(purpose)) is ConsentStatus.GRANTED for purpose in segment.interests or [])


def evaluate(
    repo: CampaignRepository,
    keys: TenantKeys,
    plan: CampaignPlan,
    contact_ids: Iterable[str],
    *,
    country: str,
    today: date,
) -> list[Recipient]:
    """The filter's decision for each contact, with what sending to it needs."""
    tenant_id = plan.tenant_id
    ids = list(dict.fromkeys(contact_ids))
    interests = list((plan.segment.interests if plan.segment else None) or [])
    wanted: list[Key] = []
    for contact_id in ids:
        pk = contact_pk(tenant_id, contact_id)
        wanted += [(pk, PROFILE), (pk, state_sk(plan.purpose, plan.channel.value))]
        wanted += [(pk, state_sk(purpose, plan.channel.value)) for purpose in interests]
    items = repo.batch_get(wanted)

    kind = CHANNEL_ADDRESS[plan.channel]
    bidx_attribute = f"{kind.value}_bidx" if kind else None
    address_keys = {
        contact_id: (address_pk(tenant_id, kind.value, bidx), ADDR)
        for contact_id in ids
        if kind is not None
        and bidx_attribute is not None
        and (found := items.get((contact_pk(tenant_id, contact_id), PROFILE))) is not None
        and (bidx := found.get(bidx_attribute))
    }
    addresses = repo.batch_get(address_keys.values())

    recipients = []
    for contact_id in ids:
        pk = contact_pk(tenant_id, contact_id)
        profile_item = items.get((pk, PROFILE))
        state = items.get((pk, state_sk(plan.purpose, plan.channel.value)))
        status = _status(state)
        address = addresses.get(address_keys[contact_id]) if contact_id in address_keys else None
        suppressions = for_contact((address or {}).get("suppressions") or {}, contact_id)
        erased = (
            profile_item is None
            or bool(profile_item.get("erased"))
            or (state is not None and state.get("source") == ERASURE_SOURCE)
        )
        profile: ContactProfile | None = None
        head: HeadHint | None = None
        may_open = not erased and (plan.transactional or consent_exclusion(status) is None)
        if may_open and profile_item is not None and profile_item.get("wrapped_key"):
            box = keys.contact_box(contact_id, profile_item["wrapped_key"])
            profile = open_profile(box, profile_item.get("profile"))
            head = head_hint(box, profile_item, kind)
        facts = ContactFacts(
            erased=erased,
            has_address=contact_id in address_keys and (profile is None or _address(profile, plan.channel) is not None),
            minor=profile is not None and is_minor(profile.birth_date, country, today),
            parental_consent=bool(state and state.get("parental_consent")),
            in_segment=profile_item is not None
            and _in_segment(
                plan, profile_item, {p: items.get((pk, state_sk(p, plan.channel.value))) for p in interests}
            ),
        )
        decision = eligibility(status, suppressions, facts, plan.rules)
        recipients.append(
            Recipient(
                contact_id=contact_id,
                decision=decision,
                status=status,
                event_id=state.get("event_id") if state else None,
                profile=profile if isinstance(decision, Included) else None,
                head=head if isinstance(decision, Included) else None,
            )
        )
    return recipients


def _address(profile: ContactProfile, channel: Channel) -> str | None:
    kind = CHANNEL_ADDRESS[channel]
    return None if kind is None else getattr(profile, kind.value)


def address_of(recipient: Recipient, channel: Channel) -> str | None:
    return None if recipient.profile is None else _address(recipient.profile, channel)
