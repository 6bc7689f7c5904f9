"""Staff recording a person's decision: a phone call, a letter, the shop counter."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from samtykke.domain.consent import Channel, ConsentStatus, LegalBasis
from samtykke.models.common import Model


class StaffConsentAction(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"
    BASIS_CHANGE = "basis_change"


class StaffSource(StrEnum):
    PHONE = "phone"
    LETTER = "letter"
    IN_PERSON = "in-person"
    EMAIL = "email"
    OTHER = "other"


class StaffConsentChange(Model):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {
                "action": "withdraw",
                "purpose": "e-marketing",
                "channel": "email",
                "source": "phone",
                "note": "Called customer service on 2 December and asked to receive no more newsletters",
            }
        },
    )
    action: StaffConsentAction
    purpose: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    channel: Channel
    source: StaffSource = Field(description="How the person told us")
    note: str = Field(min_length=10, max_length=2000, description="What the person said, and when (required)")
    legal_basis: LegalBasis | None = Field(
        default=None, description="For `basis_change` (required) and `grant` (default: the purpose's)"
    )


class StaffConsentResult(Model):
    contact_id: str
    event_id: str
    purpose: str
    channel: Channel
    status: ConsentStatus
    legal_basis: LegalBasis


class DoNotContactAdd(Model):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"example": {"email": "no.more@example.dk", "note": "Asked by letter of 1 December"}},
    )
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    note: str = Field(min_length=5, max_length=500, description="Why (kept with the entry)")


class DoNotContactEntry(Model):
    kind: str = Field(description="`email` or `phone`")
    hash: str = Field(description="The address's blind index: the list never shows the address itself")
    added_at: str
    added_by: str | None = None
    note: str | None = None
