"""The vocabulary of consent and the pure rules for how a consent state moves."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class AddressKind(StrEnum):
    """What identifies a person on a channel; the blind index is kept per kind."""

    EMAIL = "email"
    PHONE = "phone"


CHANNEL_ADDRESS: dict[Channel, AddressKind | None] = {
    Channel.EMAIL: AddressKind.EMAIL,
    Channel.SMS: AddressKind.PHONE,
    Channel.PHONE: AddressKind.PHONE,
    Channel.POST: None,
}


class LegalBasis(StrEnum):
    """GDPR Art. 6(1) (a)-(f), plus the state `withdrawn`."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    WITHDRAWN = "withdrawn"


ARTICLE_6_BASES: tuple[LegalBasis, ...] = tuple(b for b in LegalBasis if b is not LegalBasis.WITHDRAWN)


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    PENDING = "pending"  # waiting for the double opt-in confirmation
    PENDING_PARENTAL = "pending_parental"  # a minor: waiting for a parent's confirmation
    WITHDRAWN = "withdrawn"


class EventType(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"
    CONFIRM = "confirm"
    IMPORT = "import"
    BASIS_CHANGE = "basis_change"
    EXPIRE = "expire"  # an unconfirmed double opt-in past the tenant's pending TTL (services/retention.py)
    ERASE = "erase"  # erasure by anonymisation withdrew the state; the event carries no personal data


class ActorType(StrEnum):
    CONTACT = "contact"
    STAFF = "staff"
    API_KEY = "api_key"
    SYSTEM = "system"
    SMS_PROVIDER = "sms_provider"
    PARENT = "parent"  # a parent confirming a minor's consent (GDPR Art. 8)


def capture_status(*, channel: Channel, double_opt_in: bool, is_minor: bool) -> ConsentStatus:
    """The status a freshly captured consent starts in.

    A minor's consent always waits for a parent, whatever else applies (GDPR Art. 8); an email or SMS consent
    waits for its confirmation (the link, or a JA/YES reply) when the purpose asks for double opt-in.
    """
    if is_minor:
        return ConsentStatus.PENDING_PARENTAL
    if double_opt_in and channel in (Channel.EMAIL, Channel.SMS):
        return ConsentStatus.PENDING
    return ConsentStatus.GRANTED


def can_confirm(current: ConsentStatus | None) -> bool:
    """Only a consent still waiting for double opt-in can be confirmed by its link."""
    return current is ConsentStatus.PENDING


def permits_messaging(status: ConsentStatus | None) -> bool:
    return status is ConsentStatus.GRANTED


def aggregate_status(statuses: list[ConsentStatus]) -> ConsentStatus:
    """One status for a purpose captured on several channels: the least settled one wins."""
    for candidate in (ConsentStatus.PENDING_PARENTAL, ConsentStatus.PENDING, ConsentStatus.WITHDRAWN):
        if candidate in statuses:
            return candidate
    return ConsentStatus.GRANTED
