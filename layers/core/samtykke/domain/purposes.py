"""What a purpose's kind allows. Pure.

A purpose is `marketing` (newsletters, offers: ePrivacy and the marketing acts need the person's consent) or
`service` (order confirmations, contract messages: another Art. 6 basis may carry them).

- Only a `service` purpose may send as transactional, i.e. without checking marketing consent.
- A marketing purpose's default legal basis is `consent`, and capture records `consent` for it: a marketing
  consent is never inferred from a default. A service purpose's default basis is what capture and imports record
  when the form or the file does not say.
"""

from __future__ import annotations

from enum import StrEnum

from samtykke.domain.consent import LegalBasis
from samtykke.domain.errors import InvalidInput


class PurposeKind(StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"


class MarketingNeedsConsent(InvalidInput):
    code = "marketing_requires_consent"


class TransactionalNeedsServicePurpose(InvalidInput):
    code = "transactional_requires_service_purpose"


def kind_of(kind: PurposeKind | str | None, marketing: bool) -> PurposeKind:
    """A stored purpose's kind; one stored before kinds existed is `marketing` if it was flagged so."""
    if kind:
        return PurposeKind(kind)
    return PurposeKind.MARKETING if marketing else PurposeKind.SERVICE


def check_default_basis(kind: PurposeKind, default_legal_basis: LegalBasis) -> None:
    if kind is PurposeKind.MARKETING and default_legal_basis is not LegalBasis.CONSENT:
        raise MarketingNeedsConsent("A marketing purpose's legal basis is consent; only a service purpose has another")
    if default_legal_basis is LegalBasis.WITHDRAWN:
        raise InvalidInput("`withdrawn` is a state, not a legal basis", code="invalid_legal_basis")


def recorded_basis(kind: PurposeKind, default_legal_basis: LegalBasis, stated: LegalBasis | None = None) -> LegalBasis:
    """The basis a capture or import records: what the form or file states, else the purpose's default; always
    `consent` for a marketing purpose unless stated otherwise explicitly."""
    if stated is not None:
        return stated
    return LegalBasis.CONSENT if kind is PurposeKind.MARKETING else default_legal_basis


def check_transactional_purpose(transactional: bool, purpose_id: str, kind: PurposeKind) -> None:
    if transactional and kind is not PurposeKind.SERVICE:
        raise TransactionalNeedsServicePurpose(
            f"Only a service purpose may send as transactional; '{purpose_id}' is a marketing purpose"
        )
