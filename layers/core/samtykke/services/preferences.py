"""The preference centre ("Min sida"): a contact sees and changes each consent, and asks for a fresh link.

Every change is one form submit and goes through the ledger (source `preference-centre`, actor the contact),
with the address's suppression moved in the same transaction: a withdrawal suppresses the address for that
purpose, and a grant lifts an unsubscribe suppression that would otherwise keep the new consent silent.
A grant records the consent text version the page showed, in the contact's locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from samtykke.adapters.rate_limits import Limit, RateLimitRepository
from samtykke.domain.addresses import normalise_email
from samtykke.domain.age import is_minor
from samtykke.domain.consent import (
    CHANNEL_ADDRESS,
    ActorType,
    AddressKind,
    Channel,
    ConsentStatus,
    EventType,
    LegalBasis,
    capture_status,
)
from samtykke.domain.defaults import resolve_locale
from samtykke.domain.errors import InvalidInput, RetryableError
from samtykke.domain.links import evidence_note
from samtykke.domain.mail import OutgoingEmail
from samtykke.domain.suppression import ALL_PURPOSES, SuppressionReason, suppression_key, suppression_reason
from samtykke.models.catalog import Purpose
from samtykke.models.consent import Actor, Evidence, TextRef
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.evidence_log.receipt_links import receipt_link
from samtykke.services.ledger import ContactNotFound, ContactTarget, Ledger, LoadedContact, StateChange, StateKey
from samtykke.services.links import LinkSigner, verify_preference_token
from samtykke.services.unsubscribe import (
    SuppressionChange,
    TenantFace,
    contact_locale,
    purpose_name,
    settle_suppressions,
)
from samtykke.templates.links import preference_link_email

SOURCE = "preference-centre"
FRESH_LINK_TTL = timedelta(days=7)
IP_LIMIT = Limit("pref-link-ip", max_requests=20, window_seconds=3600)
ADDRESS_LIMIT = Limit("pref-link-email", max_requests=3, window_seconds=3600)


class Action(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class SubProcessorRow:
    name: str
    purpose: str
    agreement_date: date


@dataclass(frozen=True)
class PreferenceRow:
    purpose_id: str
    purpose: str  # display name
    channel: Channel
    status: ConsentStatus | None  # None: never given
    action: Action
    text: str | None  # the consent text a grant agrees to
    text_version: int | None


@dataclass(frozen=True)
class Notice:
    key: str  # a message key: pref_saved_granted, pref_saved_withdrawn, pref_saved_pending_parental, pref_unchanged
    purpose: str
    channel: Channel


@dataclass(frozen=True)
class PreferenceView:
    locale: str
    tenant: TenantFace
    rows: list[PreferenceRow]
    sub_processors: list[SubProcessorRow]
    notice: Notice | None = None
    receipts_url: str | None = None  # the contact's consent receipts (services/evidence_log/receipts.py)


def _reachable(contact: LoadedContact) -> set[Channel]:
    kinds = {kind for kind in AddressKind if getattr(contact.profile, kind.value)}
    return {channel for channel, kind in CHANNEL_ADDRESS.items() if kind is not None and kind in kinds}


def _text(catalog: TenantCatalog, purpose_id: str, locale: str, version: int | None = None) -> TextRef | None:
    locales = catalog.text_locales(purpose_id)
    if not locales:
        return None
    text = catalog.text(purpose_id, _text_locale(catalog, purpose_id, locale), version)
    if text is None:
        return None
    return TextRef(purpose_id=purpose_id, locale=text.locale, version=text.version, sha256=text.sha256)


def _text_locale(catalog: TenantCatalog, purpose_id: str, locale: str) -> str:
    return resolve_locale(locale, catalog.text_locales(purpose_id), catalog.tenant.default_locale)


def _rows(
    catalog: TenantCatalog, contact: LoadedContact, statuses: Mapping[StateKey, ConsentStatus], locale: str
) -> list[PreferenceRow]:
    reachable = _reachable(contact)
    rows = []
    for purpose in catalog.purposes.values():
        if not purpose.active:
            continue
        for channel in purpose.channels:
            if channel not in reachable:
                continue
            status = statuses.get((purpose.purpose_id, channel))
            withdrawable = status in (ConsentStatus.GRANTED, ConsentStatus.PENDING, ConsentStatus.PENDING_PARENTAL)
            ref = _text(catalog, purpose.purpose_id, locale)
            if not withdrawable and ref is None:
                continue  # nothing to grant against: the purpose has no consent text
            text = catalog.text(purpose.purpose_id, ref.locale, ref.version) if ref else None
            rows.append(
                PreferenceRow(
                    purpose_id=purpose.purpose_id,
                    purpose=purpose_name(catalog, purpose.purpose_id, locale),
                    channel=channel,
                    status=status,
                    action=Action.WITHDRAW if withdrawable else Action.GRANT,
                    text=text.text if text else None,
                    text_version=ref.version if ref else None,
                )
            )
    return rows


def _statuses(contact: LoadedContact) -> dict[StateKey, ConsentStatus]:
    return {key: state.status for key, state in contact.states.items()}


def _view(
    catalog: TenantCatalog,
    contact: LoadedContact,
    statuses: Mapping[StateKey, ConsentStatus],
    notice: Notice | None = None,
) -> PreferenceView:
    tenant = catalog.tenant
    locale = contact_locale(contact, tenant)
    return PreferenceView(
        locale=locale,
        tenant=TenantFace.of(tenant),
        rows=_rows(catalog, contact, statuses, locale),
        sub_processors=[SubProcessorRow(s.name, s.purpose, s.agreement_date) for s in tenant.sub_processors],
        notice=notice,
    )


def preference_page(svc: Services, token: str, *, base_url: str) -> PreferenceView:
    """What the preference centre shows, with a link to download the contact's consent receipts. Reads only."""
    link, claims = verify_preference_token(svc, token)
    contact = Ledger(svc, link.keys).load(claims.contact_id)
    receipts_url = receipt_link(svc, link.keys, contact.contact_id, base_url)
    return replace(_view(link.catalog, contact, _statuses(contact)), receipts_url=receipts_url)


def _purpose(catalog: TenantCatalog, purpose_id: str, channel: Channel, action: Action) -> Purpose:
    purpose = catalog.purposes.get(purpose_id)
    if purpose is None:
        raise InvalidInput(f"Unknown purpose '{purpose_id}'", code="unknown_purpose")
    if action is Action.GRANT and not purpose.active:
        raise InvalidInput(f"Purpose '{purpose_id}' is no longer active", code="purpose_inactive")
    if channel not in purpose.channels:
        raise InvalidInput(f"Purpose '{purpose_id}' has no channel '{channel}'", code="unknown_channel")
    return purpose


def _grant_suppressions(
    svc: Services, catalog: TenantCatalog, contact: LoadedContact, purpose_id: str, channel: Channel
) -> list[SuppressionChange]:
    """Lifts the unsubscribe suppressions that would keep a new grant silent; other reasons (a bounce, a
    complaint, an SMS STOP) stay. An "everything" suppression becomes one per other purpose, which keeps them
    suppressed."""
    kind = CHANNEL_ADDRESS[channel]
    blind_index = contact.blind_indexes.get(kind) if kind else None
    if kind is None or blind_index is None:
        return []
    address = svc.repo.get_address(catalog.tenant.tenant_id, kind.value, blind_index) or {}
    suppressions: dict[str, Any] = address.get("suppressions") or {}
    changes: list[SuppressionChange] = []

    def unsubscribed(key: str) -> dict[str, Any] | None:
        record = suppressions.get(key)
        return record if record and record.get("reason") == SuppressionReason.UNSUBSCRIBED.value else None

    if unsubscribed(suppression_key(channel, purpose_id)):
        changes.append((kind, suppression_key(channel, purpose_id), None))
    everything = unsubscribed(suppression_key(channel, ALL_PURPOSES))
    if everything:
        changes.append((kind, suppression_key(channel), None))
        for other in catalog.purposes.values():
            key = suppression_key(channel, other.purpose_id)
            if other.purpose_id != purpose_id and channel in other.channels and key not in suppressions:
                changes.append((kind, key, everything))
    return changes


def change_preference(
    svc: Services,
    token: str,
    *,
    purpose_id: str,
    channel: Channel,
    action: Action,
    text_version: int | None,
    evidence: Evidence,
) -> PreferenceView:
    """Grants or withdraws one consent, in one step. Changing nothing (it was already so) writes nothing."""
    link, claims = verify_preference_token(svc, token)
    catalog = link.catalog
    tenant = catalog.tenant
    ledger = Ledger(svc, link.keys)
    contact = ledger.load(claims.contact_id)
    purpose = _purpose(catalog, purpose_id, channel, action)
    if channel not in _reachable(contact):
        raise InvalidInput(f"There is no address for channel '{channel}'", code="no_channel_for_address")
    now = svc.clock()
    text: TextRef | None = None
    suppressions: list[SuppressionChange]
    kind = CHANNEL_ADDRESS[channel]
    if action is Action.GRANT:
        text = _text(catalog, purpose_id, contact_locale(contact, tenant), text_version)
        if text is None:
            code = "unknown_text_version" if text_version else "no_consent_text"
            raise InvalidInput(f"No consent text for '{purpose_id}' in that version and locale", code=code)
        suppressions = _grant_suppressions(svc, catalog, contact, purpose_id, channel)
    else:
        record = {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": now.isoformat(), "source": SOURCE}
        suppressions = [] if kind is None else [(kind, suppression_key(channel, purpose_id), record)]

    def decide(current: LoadedContact) -> list[StateChange]:
        state = current.states.get((purpose_id, channel))
        status = state.status if state else None
        if action is Action.WITHDRAW:
            if status is None or status is ConsentStatus.WITHDRAWN:
                return []
            return [StateChange.withdrawal(purpose_id, channel, SOURCE)]
        minor = is_minor(current.profile.birth_date, tenant.country, now.date())
        # The link arrived by email, so it stands in for the double opt-in confirmation; a minor still waits.
        new_status = capture_status(channel=channel, double_opt_in=False, is_minor=minor)
        if status is new_status or status is ConsentStatus.GRANTED:
            return []
        return [StateChange(purpose_id, channel, EventType.GRANT, new_status, LegalBasis.CONSENT, SOURCE, text)]

    result = ledger.write(
        ContactTarget(contact_id=claims.contact_id, suppressions=suppressions, loaded=contact),
        decide,
        Actor(type=ActorType.CONTACT),
        evidence.model_copy(update={"note": evidence_note(via=SOURCE, action=action.value)}),
    )
    if not result.events:
        settle_suppressions(svc, tenant.tenant_id, result.contact, suppressions)
    if not result.events:
        notice_key = "pref_unchanged"
    elif result.events[0].status is ConsentStatus.PENDING_PARENTAL:
        notice_key = "pref_saved_pending_parental"
    else:
        notice_key = f"pref_saved_{result.events[0].status.value}"
    display = purpose_name(catalog, purpose.purpose_id, contact_locale(result.contact, tenant))
    # The page shows the states just written: those the write decided on, with its events applied.
    statuses = _statuses(result.contact) | {(e.purpose, e.channel): e.status for e in result.events}
    return _view(catalog, result.contact, statuses, Notice(notice_key, display, channel))


# --- a fresh link, by email address -----------------------------------------------------------------


class RateLimited(RetryableError):
    code = "rate_limited"
    status = 429


def request_preference_link(svc: Services, tenant_id: str, email: str, *, source_ip: str, base_url: str) -> None:
    """Emails a fresh preference link if the address belongs to a contact. The caller learns nothing either way.

    Rate-limited per source IP and per address (keyed hashes, never the values), whether or not it exists.
    """
    catalog = svc.catalogs.get(tenant_id)
    address = normalise_email(email)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    blind_index = keys.blind_index(AddressKind.EMAIL.value, address)
    now = int(svc.clock().timestamp())
    limiter = RateLimitRepository(svc.settings.table_name)
    for limit, hashed in ((IP_LIMIT, keys.blind_index("ip", source_ip)), (ADDRESS_LIMIT, blind_index)):
        verdict = limiter.hit(tenant_id, limit, hashed, now=now)
        if not verdict.allowed:
            raise RateLimited("Too many link requests; retry later", retry_after=verdict.retry_after)

    item = svc.repo.get_address(tenant_id, AddressKind.EMAIL.value, blind_index)
    if item is None or not item.get("contact_id"):
        return
    if suppression_reason(item.get("suppressions") or {}, Channel.EMAIL, SOURCE, transactional=True):
        return  # a hard bounce, complaint or erasure: mail nothing
    try:
        contact = Ledger(svc, keys).load(item["contact_id"])
    except ContactNotFound:
        return
    if not contact.profile.email:
        return
    locale = contact_locale(contact, catalog.tenant)
    expires = now + int(FRESH_LINK_TTL.total_seconds())
    link = LinkSigner.for_tenant(svc, tenant_id, base_url).preferences(contact.contact_id, expires_at=expires)
    subject, text, html = preference_link_email(locale, catalog.tenant.name, link, FRESH_LINK_TTL.days)
    svc.mailer.send(OutgoingEmail(svc.settings.sender_email, contact.profile.email, subject, text, html))
