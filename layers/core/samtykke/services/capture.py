"""Consent capture from web forms, and the double opt-in confirmation that completes it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

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
from samtykke.domain.defaults import SUPPORTED_LOCALES, resolve_locale
from samtykke.domain.errors import Forbidden, InvalidInput
from samtykke.domain.mail import OutgoingEmail
from samtykke.domain.national_ids import validate_national_id
from samtykke.domain.purposes import recorded_basis
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
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.ledger import Address, ContactTarget, Ledger, LoadedContact, StateChange
from samtykke.templates import confirmation_email

CONFIRM_USE = "confirm"


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"


class RedirectNotAllowed(InvalidInput):
    code = "redirect_not_allowed"
    status = 400


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
    )
    return _Plan(planned, addresses, profile, locale, is_minor(submission.birth_date, tenant.country, today))


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
        changes = []
        for purpose, channels, text in plan.purposes:
            for channel in channels:
                status = capture_status(channel=channel, double_opt_in=purpose.double_opt_in, is_minor=plan.minor)
                current = contact.states.get((purpose.purpose_id, channel))
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
                    )
                )
        return changes

    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    target = ContactTarget(addresses=plan.addresses, profile_updates=plan.profile, create_if_missing=True)
    result = Ledger(svc, keys).write(target, decide, Actor(type=ActorType.CONTACT), evidence)

    awaiting = sorted({e.purpose for e in result.events if e.status is ConsentStatus.PENDING})
    if awaiting and plan.profile.email:
        claims = {
            "t": tenant_id,
            "c": result.contact.contact_id,
            "p": awaiting,
            # The link lives exactly as long as the pending consent it confirms (the tenant's retention setting).
            "exp": int(svc.clock().timestamp()) + catalog.tenant.pending_ttl_days * 24 * 3600,
        }
        link = f"{public_base_url}/v1/public/confirm/{tokens.sign(keys.signing_key(CONFIRM_USE), CONFIRM_USE, claims)}"
        subject, text, html = confirmation_email(plan.locale, catalog.tenant.name, link)
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


def confirm_consent(svc: Services, token: str, evidence: Evidence) -> ConfirmationOutcome:
    """Completes double opt-in: each named purpose still pending on email becomes granted."""
    claims = tokens.peek(token)
    tenant_id = str(claims.get("t", ""))
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    claims = tokens.verify(keys.signing_key(CONFIRM_USE), CONFIRM_USE, token, now=int(svc.clock().timestamp()))
    purposes = [str(p) for p in claims.get("p", [])]

    def decide(contact: LoadedContact) -> list[StateChange]:
        changes = []
        for purpose_id in purposes:
            current = contact.states.get((purpose_id, Channel.EMAIL))
            if current is not None and can_confirm(current.status):
                changes.append(
                    StateChange(
                        purpose_id,
                        Channel.EMAIL,
                        EventType.CONFIRM,
                        ConsentStatus.GRANTED,
                        current.legal_basis,
                        current.source,
                        current.text,
                    )
                )
        return changes

    result = Ledger(svc, keys).write(
        ContactTarget(contact_id=str(claims["c"])), decide, Actor(type=ActorType.CONTACT), evidence
    )
    confirmed = [e.purpose for e in result.events]
    already = [
        p
        for p in purposes
        if p not in confirmed
        and (state := result.contact.states.get((p, Channel.EMAIL))) is not None
        and state.status is ConsentStatus.GRANTED
    ]
    if not confirmed and not already:
        raise NothingToConfirm("There is nothing left to confirm with this link")
    locale = result.contact.profile.locale or catalog.tenant.default_locale
    return ConfirmationOutcome(catalog.tenant.name, locale, confirmed, already)
