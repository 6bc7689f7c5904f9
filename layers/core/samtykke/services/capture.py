"""Consent capture from web forms, and the double opt-in confirmation that completes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from samtykke.adapters.crypto import TenantKeys
from samtykke.domain import tokens
from samtykke.domain.addresses import normalise_email, normalise_phone
from samtykke.domain.age import is_minor
from samtykke.domain.consent import (
    CHANNEL_ADDRESS,
    ActorType,
    AddressKind,
    Channel,
    ConsentStatus,
    EventType,
    aggregate_status,
    can_confirm,
    capture_status,
)
from samtykke.domain.custom_fields import validate_custom_values
from samtykke.domain.defaults import SUPPORTED_LOCALES, resolve_locale
from samtykke.domain.errors import Forbidden, InvalidInput, SamtykkeError
from samtykke.domain.links import accept_language_locale
from samtykke.domain.mail import OutgoingEmail
from samtykke.domain.national_ids import validate_national_id
from samtykke.domain.purposes import recorded_basis
from samtykke.domain.suppression import SuppressionReason, lifted_erasure
from samtykke.models.catalog import Purpose
from samtykke.models.consent import (
    Actor,
    CaptureResult,
    ChannelOutcome,
    ConsentSubmission,
    ContactProfile,
    Evidence,
    PurposeOutcome,
    TextRef,
)
from samtykke.observability import logger
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.evidence_log import parental, profile_changes
from samtykke.services.evidence_log.receipt_links import receipt_link
from samtykke.services.ledger import Address, ContactTarget, Ledger, LoadedContact, StateChange
from samtykke.templates import confirmation_email, messages

CONFIRM_USE = "confirm"


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"


class RedirectNotAllowed(InvalidInput):
    code = "redirect_not_allowed"
    status = 400


def _confirm_link(svc: Services, keys: TenantKeys, pending_ttl_days: int, claims: dict[str, Any], base_url: str) -> str:
    # The link lives exactly as long as the pending consent it confirms (the tenant's retention setting).
    claims = {**claims, "exp": int(svc.clock().timestamp()) + pending_ttl_days * 24 * 3600}
    return f"{base_url}/v1/public/confirm/{tokens.sign(keys.signing_key(CONFIRM_USE), CONFIRM_USE, claims)}"


def _request_sms_confirmation(
    svc: Services,
    catalog: TenantCatalog,
    keys: TenantKeys,
    contact_id: str,
    purposes: list[str],
    plan: _Plan,
    base_url: str,
) -> None:
    """The SMS double opt-in: a reply of JA or YES (services/sms_inbound.py), or the link, confirms it."""
    from samtykke.adapters.campaign_senders import SmsSender

    claims = {"t": keys.tenant_id, "c": contact_id, "p": purposes, "l": plan.locale, "ch": Channel.SMS.value}
    link = _confirm_link(svc, keys, catalog.tenant.pending_ttl_days, claims, base_url)
    text = messages(plan.locale)["sms_confirm_request"].format(tenant=catalog.tenant.name, link=link)
    try:
        SmsSender().send(str(plan.profile.phone), text, transactional=True)
    except SamtykkeError as exc:  # the consent is recorded and stays pending; a new post sends a new SMS
        logger.warning("Confirmation SMS not sent", extra={"code": exc.code})


def check_origin(catalog: TenantCatalog, origin: str | None) -> None:
    """Browsers send Origin on cross-site posts; it must be one the tenant allows. Servers send none."""
    if origin is not None and not catalog.origin_allowed(origin):
        raise OriginNotAllowed("This website may not post consents for this tenant")


def check_redirect(catalog: TenantCatalog, redirect: str | None) -> None:
    """A redirect must match an allowed URL exactly, up to its query string."""
    if redirect is None:
        return
    wanted = urlsplit(redirect)
    for allowed in catalog.tenant.allowed_redirects:
        permitted = urlsplit(allowed)
        if (wanted.scheme, wanted.netloc, wanted.path) == (permitted.scheme, permitted.netloc, permitted.path):
            return
    raise RedirectNotAllowed("The redirect URL is not on the tenant's allow-list")


@dataclass(frozen=True)
class _Plan:
    """What a valid submission will record: per purpose, the channels and the text shown."""

    purposes: list[tuple[Purpose, list[Channel], TextRef]]
    addresses: list[Address]
    profile: ContactProfile
    locale: str
    minor: bool


def _plan(svc: Services, catalog: TenantCatalog, submission: ConsentSubmission) -> _Plan:
    tenant = catalog.tenant
    if submission.source not in catalog.sources or not catalog.sources[submission.source].active:
        raise InvalidInput(f"Unknown source '{submission.source}'", code="unknown_source")
    if not catalog.sources[submission.source].public:
        # `import`, `sms-keyword` and the like are recorded by samtykke itself, never claimed by a public post.
        raise InvalidInput(f"Source '{submission.source}' may not be named by a public post", code="source_not_public")
    if not submission.email and not submission.phone:
        raise InvalidInput("Give an email address or a phone number", code="address_required")
    email = normalise_email(submission.email) if submission.email else None
    phone = normalise_phone(submission.phone, tenant.country) if submission.phone else None
    addressable = {AddressKind.EMAIL} if email else set()
    addressable |= {AddressKind.PHONE} if phone else set()

    keys = svc.keyring.tenant_keys(tenant.tenant_id, catalog.root_key_blob)
    addresses = [
        Address(kind, value, keys.blind_index(kind.value, value))
        for kind, value in ((AddressKind.EMAIL, email), (AddressKind.PHONE, phone))
        if value
    ]
    locale = resolve_locale(submission.locale, SUPPORTED_LOCALES, tenant.default_locale)

    planned: list[tuple[Purpose, list[Channel], TextRef]] = []
    for purpose_id in dict.fromkeys(submission.purpose):
        purpose = catalog.purposes.get(purpose_id)
        if purpose is None:
            raise InvalidInput(f"Unknown purpose '{purpose_id}'", code="unknown_purpose")
        if not purpose.active:
            raise InvalidInput(f"Purpose '{purpose_id}' is no longer active", code="purpose_inactive")
        channels = [c for c in purpose.channels if CHANNEL_ADDRESS[c] in addressable]
        if not channels:
            raise InvalidInput(
                f"Purpose '{purpose_id}' has no channel for the address given", code="no_channel_for_address"
            )
        text_locale = resolve_locale(locale, catalog.text_locales(purpose_id) or (locale,), tenant.default_locale)
        text = catalog.text(purpose_id, text_locale, submission.text_version)
        if text is None:
            code = "unknown_text_version" if submission.text_version else "no_consent_text"
            raise InvalidInput(f"No consent text for '{purpose_id}' in that version and locale", code=code)
        planned.append(
            (
                purpose,
                channels,
                TextRef(purpose_id=purpose_id, locale=text.locale, version=text.version, sha256=text.sha256),
            )
        )
    today = svc.clock().date()
    profile = ContactProfile(
        email=email,
        phone=phone,
        first_name=submission.first_name,
        last_name=submission.last_name,
        birth_date=submission.birth_date,
        locale=locale,
        national_id=validate_national_id(submission.national_id, tenant.country),  # stdnum, per country
        custom_fields=validate_custom_values(
            tenant.custom_field_types(), submission.custom_fields or {}, tenant.country
        )
        or None,
    )
    return _Plan(planned, addresses, profile, locale, is_minor(submission.birth_date, tenant.country, today))


def _propose_profile(
    svc: Services,
    catalog: TenantCatalog,
    plan: _Plan,
    contact: LoadedContact,
    target: ContactTarget,
    evidence: Evidence,
    change_id: list[str | None],
) -> None:
    """A new contact takes the post's profile. An existing one keeps its own: the post's new values wait, sealed,
    for the confirmation link, and only when the post's email is the one the contact already has (whoever owns
    that mailbox is the only one who can confirm). The evidence records the proposal."""
    target.profile_updates, target.profile_extras, change_id[0] = None, {}, None
    evidence.profile_change = evidence.profile_fields = None
    if contact.wrapped_key is not None:
        target.profile_updates = plan.profile
        return
    if not plan.profile.email or contact.profile.email != plan.profile.email:
        return
    change_id[0], target.profile_extras, fields = profile_changes.propose(contact, plan.profile, svc.clock())
    if fields:
        evidence.profile_change, evidence.profile_fields = "proposed", fields


def capture_consent(
    svc: Services,
    tenant_id: str,
    submission: ConsentSubmission,
    evidence: Evidence,
    *,
    origin: str | None,
    public_base_url: str,
) -> CaptureResult:
    """Records a form's consents. Every check runs before anything is written."""
    catalog = svc.catalogs.get(tenant_id)
    check_origin(catalog, origin)
    check_redirect(catalog, submission.redirect)
    plan = _plan(svc, catalog, submission)

    def decide(contact: LoadedContact) -> list[StateChange]:
        # A stored birth date counts too: a re-post with an adult birth date never lifts a known minor.
        minor = plan.minor or is_minor(contact.profile.birth_date, catalog.tenant.country, svc.clock().date())
        changes = []
        for purpose, channels, text in plan.purposes:
            for channel in channels:
                status = capture_status(channel=channel, double_opt_in=purpose.double_opt_in, is_minor=minor)
                current = contact.states.get((purpose.purpose_id, channel))
                parental = current is not None and current.status is ConsentStatus.GRANTED and current.parental_consent
                if current is not None and current.status is ConsentStatus.GRANTED:
                    status = ConsentStatus.GRANTED  # already confirmed: a new submission re-affirms it
                changes.append(
                    StateChange(
                        purpose.purpose_id,
                        channel,
                        EventType.GRANT,
                        status,
                        recorded_basis(purpose.kind, purpose.default_legal_basis),  # the purpose's, or consent
                        submission.source,
                        text,
                        parental_consent=parental,
                    )
                )
        return changes

    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    target = ContactTarget(addresses=plan.addresses, create_if_missing=True)
    change_id: list[str | None] = [None]  # the profile change this post proposed, as the last decision left it

    def decide_with_profile(contact: LoadedContact) -> list[StateChange]:
        _propose_profile(svc, catalog, plan, contact, target, evidence, change_id)
        return decide(contact)

    parent_email = normalise_email(submission.parent_email) if submission.parent_email else None
    evidence.parent_email = parent_email
    result = Ledger(svc, keys).write(target, decide_with_profile, Actor(type=ActorType.CONTACT), evidence)

    sms_awaiting = sorted(
        {e.purpose for e in result.events if e.channel is Channel.SMS and e.status is ConsentStatus.PENDING}
    )
    if sms_awaiting and plan.profile.phone:
        _request_sms_confirmation(svc, catalog, keys, result.contact.contact_id, sms_awaiting, plan, public_base_url)

    for_parent = sorted({e.purpose for e in result.events if e.status is ConsentStatus.PENDING_PARENTAL})
    if for_parent and parent_email:
        parental.request_parental_consent(
            svc,
            catalog,
            keys,
            contact_id=result.contact.contact_id,
            purposes=for_parent,
            parent_email=parent_email,
            locale=plan.locale,
            base_url=public_base_url,
        )

    awaiting = sorted(
        {e.purpose for e in result.events if e.channel is Channel.EMAIL and e.status is ConsentStatus.PENDING}
    )
    if change_id[0]:
        # The address owner confirms the whole post, so the link names every purpose it granted by email.
        awaiting = sorted({*awaiting, *(e.purpose for e in result.events if e.channel is Channel.EMAIL)})
    if awaiting and plan.profile.email:
        claims: dict[str, Any] = {"t": tenant_id, "c": result.contact.contact_id, "p": awaiting, "l": plan.locale}
        if change_id[0]:
            claims["pc"] = change_id[0]
        link = _confirm_link(svc, keys, catalog.tenant.pending_ttl_days, claims, public_base_url)
        receipts = receipt_link(svc, keys, result.contact.contact_id, public_base_url)
        subject, text, html = confirmation_email(plan.locale, catalog.tenant.name, link, receipts)
        svc.mailer.send(OutgoingEmail(svc.settings.sender_email, plan.profile.email, subject, text, html))

    outcomes = []
    for purpose, _, _ in plan.purposes:
        channel_outcomes = [
            ChannelOutcome(channel=e.channel, status=e.status, event_id=e.event_id)
            for e in result.events
            if e.purpose == purpose.purpose_id
        ]
        outcomes.append(
            PurposeOutcome(
                purpose=purpose.purpose_id,
                status=aggregate_status([c.status for c in channel_outcomes]),
                channels=channel_outcomes,
            )
        )
    return CaptureResult(contact_id=result.contact.contact_id, purposes=outcomes, confirmation_sent=bool(awaiting))


@dataclass(frozen=True)
class ConfirmationOutcome:
    tenant_name: str
    locale: str
    confirmed: list[str]
    already_confirmed: list[str]


class NothingToConfirm(InvalidInput):
    code = "nothing_to_confirm"
    status = 409


def _verified_claims(svc: Services, token: str) -> tuple[dict[str, object], TenantCatalog, TenantKeys]:
    claims = tokens.peek(token)
    catalog = svc.catalogs.get(str(claims.get("t", "")))
    keys = svc.keyring.tenant_keys(catalog.tenant.tenant_id, catalog.root_key_blob)
    claims = tokens.verify(keys.signing_key(CONFIRM_USE), CONFIRM_USE, token, now=int(svc.clock().timestamp()))
    return claims, catalog, keys


@dataclass(frozen=True)
class ConfirmationPrompt:
    tenant_name: str
    locale: str
    updates_profile: bool


def confirmation_prompt(svc: Services, token: str, accept_language: str | None) -> ConfirmationPrompt:
    """What the link's GET shows: the page with one button. It checks the link and changes nothing, so mail
    scanners that open every link confirm nothing."""
    claims, catalog, _ = _verified_claims(svc, token)
    preferred = accept_language_locale(accept_language, SUPPORTED_LOCALES)
    locale = str(claims.get("l") or preferred or catalog.tenant.default_locale)
    return ConfirmationPrompt(catalog.tenant.name, locale, bool(claims.get("pc")))


def _come_back(
    svc: Services, tenant_id: str, contact: LoadedContact
) -> tuple[list[tuple[AddressKind, str, dict[str, Any] | None]], str | None]:
    """A person who was erased and now confirms a fresh consent from the same mailbox comes back as this new
    contact: the address's `erased` suppression is lifted for it alone (imports and the old contact stay blocked),
    and the confirmation's evidence says so."""
    blind_index = contact.blind_indexes.get(AddressKind.EMAIL)
    address = svc.repo.get_address(tenant_id, AddressKind.EMAIL.value, blind_index) if blind_index else None
    lifts: list[tuple[AddressKind, str, dict[str, Any] | None]] = []
    for key, record in ((address or {}).get("suppressions") or {}).items():
        if record.get("reason") == SuppressionReason.ERASED and record.get("lifted_for") != contact.contact_id:
            lifts.append((AddressKind.EMAIL, key, lifted_erasure(record, contact.contact_id, svc.clock().isoformat())))
    note = "The address was erased before; this confirmed consent starts a new contact" if lifts else None
    return lifts, note


def confirm_consent(svc: Services, token: str, evidence: Evidence) -> ConfirmationOutcome:
    """Completes double opt-in (the page's POST): each named purpose still pending on email becomes granted, and
    the post's pending profile change applies. The confirming IP, user agent and time are the evidence."""
    claims, catalog, keys = _verified_claims(svc, token)
    purposes = [str(p) for p in cast(list[object], claims.get("p", []))]
    change_id = str(claims["pc"]) if claims.get("pc") else None
    channel = Channel(str(claims.get("ch", Channel.EMAIL.value)))  # an SMS double opt-in's link names "sms"
    target = ContactTarget(contact_id=str(claims["c"]))

    def decide(contact: LoadedContact) -> list[StateChange]:
        updates, target.profile_extras, fields = profile_changes.apply(
            contact, change_id, country=catalog.tenant.country, at=svc.clock()
        )
        target.profile_updates = updates
        evidence.profile_change, evidence.profile_fields = ("applied", fields) if fields else (None, None)
        target.suppressions, evidence.note = _come_back(svc, keys.tenant_id, contact)
        changes = []
        for purpose_id in purposes:
            current = contact.states.get((purpose_id, channel))
            if current is None:
                continue
            # A confirmed profile change also confirms the re-affirmed consents of the post that proposed it.
            if can_confirm(current.status) or (target.profile_extras and current.status is ConsentStatus.GRANTED):
                changes.append(
                    StateChange(
                        purpose_id,
                        channel,
                        EventType.CONFIRM,
                        ConsentStatus.GRANTED,
                        current.legal_basis,
                        current.source,
                        current.text,
                    )
                )
        return changes

    result = Ledger(svc, keys).write(target, decide, Actor(type=ActorType.CONTACT), evidence)
    confirmed = [e.purpose for e in result.events]
    already = [
        p
        for p in purposes
        if p not in confirmed
        and (state := result.contact.states.get((p, channel))) is not None
        and state.status is ConsentStatus.GRANTED
    ]
    if not confirmed and not already:
        raise NothingToConfirm("There is nothing left to confirm with this link")
    locale = result.contact.profile.locale or catalog.tenant.default_locale
    return ConfirmationOutcome(catalog.tenant.name, locale, confirmed, already)
