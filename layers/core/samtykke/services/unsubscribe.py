"""Unsubscribing through a link: the page (a GET, which never changes anything) and the withdrawal (a POST).

A POST withdraws the consent the token names (or, for "everything", every consent of the contact) through
the ledger, and suppresses the address in the same transaction, so an in-flight campaign skips it at once.
It is idempotent: when there is nothing left to withdraw and the suppression is in place, nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from samtykke.domain.consent import (
    CHANNEL_ADDRESS,
    ActorType,
    AddressKind,
    Channel,
    ConsentStatus,
    EventType,
    LegalBasis,
)
from samtykke.domain.defaults import SUPPORTED_LOCALES, resolve_locale
from samtykke.domain.links import UnsubscribeScope, UnsubscribeVia, clean_reason, evidence_note
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.models.catalog import Purpose
from samtykke.models.consent import Actor, Evidence
from samtykke.models.tenant import Tenant
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange
from samtykke.services.links import LinkSigner, VerifiedLink, verify_unsubscribe_token

SOURCE = "unsubscribe-link"
PAGE_LINK_TTL = timedelta(days=7)  # preference links shown on a page; emailed ones carry no expiry

SuppressionChange = tuple[AddressKind, str, dict[str, Any] | None]


@dataclass(frozen=True)
class TenantFace:
    """What a contact-facing page shows of the tenant."""

    name: str
    privacy_policy_url: str | None

    @classmethod
    def of(cls, tenant: Tenant) -> TenantFace:
        url = tenant.privacy_policy_url
        return cls(tenant.name, url if url and url.startswith(("https://", "http://")) else None)


def contact_locale(contact: LoadedContact, tenant: Tenant) -> str:
    """The contact's locale, else the tenant's default, else English."""
    return resolve_locale(contact.profile.locale, SUPPORTED_LOCALES, tenant.default_locale)


def purpose_name(catalog: TenantCatalog, purpose_id: str, locale: str) -> str:
    purpose: Purpose | None = catalog.purposes.get(purpose_id)
    if purpose is None or not purpose.names:
        return purpose_id
    for candidate in (locale, catalog.tenant.default_locale, "en"):
        if candidate in purpose.names:
            return purpose.names[candidate]
    return next(iter(purpose.names.values()))


def settle_suppressions(
    svc: Services, tenant_id: str, contact: LoadedContact, changes: list[SuppressionChange]
) -> None:
    """Applies suppression changes outside a consent change, writing only those not already in place.

    For when the ledger had no consent change to carry them (the consent was already withdrawn).
    """
    for kind, key, record in changes:
        blind_index = contact.blind_indexes.get(kind)
        if blind_index is None:
            continue
        address = svc.repo.get_address(tenant_id, kind.value, blind_index)
        if address is None or address.get("contact_id") != contact.contact_id:
            continue
        present = key in (address.get("suppressions") or {})
        if (record is None) == present:
            svc.repo.set_address_suppression(tenant_id, kind.value, blind_index, key, record)


@dataclass(frozen=True)
class UnsubscribeView:
    locale: str
    tenant: TenantFace
    purpose: str  # display name
    channel: Channel
    already_withdrawn: bool
    preference_url: str


def _preference_url(svc: Services, link: VerifiedLink, contact_id: str, base_url: str) -> str:
    """Signed with the verified link's own catalog and keys: the request read them a moment ago."""
    expires = int((svc.clock() + PAGE_LINK_TTL).timestamp())
    return LinkSigner.of(link.catalog, link.keys, base_url).preferences(contact_id, expires_at=expires)


def unsubscribe_page(svc: Services, token: str, *, base_url: str) -> UnsubscribeView:
    """What the unsubscribe page shows. Reads only."""
    link, claims = verify_unsubscribe_token(svc, token)
    contact = Ledger(svc, link.keys).load(claims.contact_id)
    locale = contact_locale(contact, link.catalog.tenant)
    state = contact.states.get((claims.purpose, claims.channel))
    return UnsubscribeView(
        locale=locale,
        tenant=TenantFace.of(link.catalog.tenant),
        purpose=purpose_name(link.catalog, claims.purpose, locale),
        channel=claims.channel,
        already_withdrawn=state is not None and state.status is ConsentStatus.WITHDRAWN,
        preference_url=_preference_url(svc, link, claims.contact_id, base_url),
    )


@dataclass(frozen=True)
class UnsubscribeOutcome:
    view: UnsubscribeView
    scope: UnsubscribeScope
    withdrawn: list[tuple[str, Channel]]  # what this request withdrew; empty when it was already done


def _suppressions(scope: UnsubscribeScope, purpose: str, channel: Channel) -> list[tuple[AddressKind, str]]:
    if scope is UnsubscribeScope.ALL:
        return [(kind, suppression_key(c)) for c in Channel if (kind := CHANNEL_ADDRESS[c]) is not None]
    kind = CHANNEL_ADDRESS[channel]
    return [] if kind is None else [(kind, suppression_key(channel, purpose))]


def withdrawals(
    contact: LoadedContact, scope: UnsubscribeScope, purpose: str, channel: Channel, source: str
) -> list[StateChange]:
    """Every consent in scope that is not withdrawn yet (granted, or still pending) becomes withdrawn."""
    changes = []
    for (state_purpose, state_channel), state in sorted(contact.states.items()):
        in_scope = scope is UnsubscribeScope.ALL or (state_purpose, state_channel) == (purpose, channel)
        if in_scope and state.status is not ConsentStatus.WITHDRAWN:
            changes.append(
                StateChange(
                    state_purpose,
                    state_channel,
                    EventType.WITHDRAW,
                    ConsentStatus.WITHDRAWN,
                    LegalBasis.WITHDRAWN,
                    source,
                )
            )
    return changes


def unsubscribe(
    svc: Services,
    token: str,
    *,
    via: UnsubscribeVia,
    scope: UnsubscribeScope,
    reason: str | None,
    evidence: Evidence,
    base_url: str,
) -> UnsubscribeOutcome:
    link, claims = verify_unsubscribe_token(svc, token)
    tenant_id = claims.tenant_id
    now = svc.clock()
    record = {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": now.isoformat(), "source": SOURCE}
    suppressions: list[SuppressionChange] = [
        (kind, key, record) for kind, key in _suppressions(scope, claims.purpose, claims.channel)
    ]
    note = evidence_note(via=via.value, scope=scope.value, message_ref=claims.message_ref, reason=clean_reason(reason))

    def decide(contact: LoadedContact) -> list[StateChange]:
        return withdrawals(contact, scope, claims.purpose, claims.channel, SOURCE)

    result = Ledger(svc, link.keys).write(
        ContactTarget(contact_id=claims.contact_id, suppressions=suppressions),
        decide,
        Actor(type=ActorType.CONTACT),
        evidence.model_copy(update={"note": note}),
    )
    if not result.events:
        settle_suppressions(svc, tenant_id, result.contact, suppressions)
    locale = contact_locale(result.contact, link.catalog.tenant)
    view = UnsubscribeView(
        locale=locale,
        tenant=TenantFace.of(link.catalog.tenant),
        purpose=purpose_name(link.catalog, claims.purpose, locale),
        channel=claims.channel,
        already_withdrawn=True,
        preference_url=_preference_url(svc, link, claims.contact_id, base_url),
    )
    return UnsubscribeOutcome(view, scope, [(e.purpose, e.channel) for e in result.events])
