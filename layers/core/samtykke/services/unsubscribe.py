"""Unsubscribing through a link: the page (a GET, which never changes anything) and the withdrawal (a POST).

A POST withdraws the consent the token names (or, for "everything", every consent of the contact) through
the ledger, and suppresses the address in the same transaction, so an in-flight campaign skips it at once.
It is idempotent: when there is nothing left to withdraw and the suppression is in place, nothing is written.

A campaign's link carries a head hint (`domain/links.HeadHint`). On a warm container, a POST with one for its own
purpose is then one call: the withdrawal is written on the hinted head, under the configuration this container
holds, and the transaction checks both (`Ledger.withdraw_on_hint`). When either moved on, it goes the usual way:
the configuration read, the contact's read, and the write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from samtykke.domain.consent import (
    CHANNEL_ADDRESS,
    ActorType,
    AddressKind,
    Channel,
    ConsentStatus,
)
from samtykke.domain.defaults import SUPPORTED_LOCALES, resolve_locale
from samtykke.domain.links import (
    UnsubscribeClaims,
    UnsubscribeScope,
    UnsubscribeVia,
    clean_reason,
    evidence_note,
)
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.models.catalog import Purpose
from samtykke.models.consent import Actor, Evidence
from samtykke.models.tenant import Tenant
from samtykke.services.catalog import CONFIG_COUNTER, TenantCatalog
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange
from samtykke.services.links import (
    LinkSigner,
    VerifiedLink,
    verify_unsubscribe_token,
    verify_unsubscribe_token_held,
)

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
            changes.append(StateChange.withdrawal(state_purpose, state_channel, source))
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
    def noted(claims: UnsubscribeClaims) -> Evidence:
        note = evidence_note(
            via=via.value, scope=scope.value, message_ref=claims.message_ref, reason=clean_reason(reason)
        )
        return evidence.model_copy(update={"note": note})

    if scope is UnsubscribeScope.PURPOSE:
        outcome = _unsubscribe_on_hint(svc, token, noted, base_url)
        if outcome is not None:
            return outcome
    link, claims = verify_unsubscribe_token(svc, token)
    suppressions = _suppression_records(svc, scope, claims.purpose, claims.channel)

    def decide(contact: LoadedContact) -> list[StateChange]:
        return withdrawals(contact, scope, claims.purpose, claims.channel, SOURCE)

    result = Ledger(svc, link.keys).write(
        ContactTarget(contact_id=claims.contact_id, suppressions=suppressions),
        decide,
        Actor(type=ActorType.CONTACT),
        noted(claims),
    )
    if not result.events:
        settle_suppressions(svc, claims.tenant_id, result.contact, suppressions)
    view = _done_view(
        svc, link, claims.purpose, claims.channel, claims.contact_id, result.contact.profile.locale, base_url
    )
    return UnsubscribeOutcome(view, scope, [(e.purpose, e.channel) for e in result.events])


def _unsubscribe_on_hint(
    svc: Services, token: str, noted: Callable[[UnsubscribeClaims], Evidence], base_url: str
) -> UnsubscribeOutcome | None:
    """The one-call path, for a link with a head hint and a configuration this container holds; else None."""
    held = verify_unsubscribe_token_held(svc, token)
    if held is None:
        return None
    link, claims, counter = held
    head, kind = claims.head, CHANNEL_ADDRESS[claims.channel]
    if head is None or kind is None:
        return None
    recorded = Ledger(svc, link.keys).withdraw_on_hint(
        claims.contact_id,
        head,
        kind,
        [StateChange.withdrawal(claims.purpose, claims.channel, SOURCE)],
        _suppression_records(svc, UnsubscribeScope.PURPOSE, claims.purpose, claims.channel),
        Actor(type=ActorType.CONTACT),
        noted(claims),
        counter_at=(CONFIG_COUNTER, counter),
    )
    if recorded is None:
        return None
    view = _done_view(svc, link, claims.purpose, claims.channel, claims.contact_id, head.locale, base_url)
    return UnsubscribeOutcome(view, UnsubscribeScope.PURPOSE, [(e.purpose, e.channel) for e in recorded])


def _suppression_records(
    svc: Services, scope: UnsubscribeScope, purpose: str, channel: Channel
) -> list[SuppressionChange]:
    record = {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": svc.clock().isoformat(), "source": SOURCE}
    return [(kind, key, record) for kind, key in _suppressions(scope, purpose, channel)]


def _done_view(
    svc: Services,
    link: VerifiedLink,
    purpose: str,
    channel: Channel,
    contact_id: str,
    contact_locale: str | None,
    base_url: str,
) -> UnsubscribeView:
    tenant = link.catalog.tenant
    locale = resolve_locale(contact_locale, SUPPORTED_LOCALES, tenant.default_locale)
    return UnsubscribeView(
        locale=locale,
        tenant=TenantFace.of(tenant),
        purpose=purpose_name(link.catalog, purpose, locale),
        channel=channel,
        already_withdrawn=True,
        preference_url=_preference_url(svc, link, contact_id, base_url),
    )
