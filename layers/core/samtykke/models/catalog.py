"""Purposes, sources, legal-basis labels and consent texts: what a tenant maintains."""

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from samtykke.domain.consent import Channel, LegalBasis
from samtykke.models.common import Model, PatchModel

Slug = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
Locale = Field(pattern=r"^[a-z]{2}$")
# A purpose's name per locale: `{"da": "Nyhedsbrev", "en": "Newsletter"}`. Keys are locales, never free text.
LocalisedNames = dict[Annotated[str, Field(pattern=r"^[a-z]{2}$")], Annotated[str, Field(min_length=1, max_length=200)]]


class Purpose(Model):
    purpose_id: str
    names: dict[str, str]
    channels: list[Channel]
    active: bool = True
    default_legal_basis: LegalBasis
    double_opt_in: bool = False
    marketing: bool = False
    created_at: datetime
    updated_at: datetime


class PurposeCreate(Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "purpose_id": "member-newsletter",
                "names": {"da": "Medlemsnyhedsbrev", "en": "Member newsletter"},
                "channels": ["email"],
                "default_legal_basis": "consent",
                "double_opt_in": True,
                "marketing": True,
            }
        },
    )
    purpose_id: str = Slug
    names: LocalisedNames = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    default_legal_basis: LegalBasis = LegalBasis.CONSENT
    double_opt_in: bool = False
    marketing: bool = False


class PurposeUpdate(PatchModel):
    """Fields to change; purposes are deactivated (`active: false`), never deleted."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"names": {"en": "Newsletter"}, "active": True}}
    )
    names: LocalisedNames | None = Field(default=None, min_length=1)
    channels: list[Channel] | None = Field(default=None, min_length=1)
    active: bool | None = None
    default_legal_basis: LegalBasis | None = None
    double_opt_in: bool | None = None
    marketing: bool | None = None


class Source(Model):
    source_id: str
    label: str
    active: bool = True


class SourceCreate(Model):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"source_id": "trade-fair", "label": "Trade fair"}}
    )
    source_id: str = Slug
    label: str = Field(min_length=1, max_length=100)


class SourceUpdate(PatchModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"label": "Trade fair 2026"}})
    label: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None


class LegalBasisLabel(Model):
    code: LegalBasis
    label: str


class LegalBasisLabelUpdate(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"label": "Samtykke (art. 6, stk. 1, a)"}})
    label: str = Field(min_length=1, max_length=100)


class ConsentText(Model):
    purpose_id: str
    locale: str
    version: int
    text: str
    sha256: str
    created_at: datetime


class ConsentTextCreate(Model):
    """A new version of a purpose's consent text in one locale. Versions are immutable once created."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "purpose_id": "e-marketing",
                "locale": "da",
                "text": "Ja tak, send mig nyhedsbreve på e-mail. Jeg kan altid framelde mig.",
            }
        },
    )
    purpose_id: str = Slug
    locale: str = Locale
    text: str = Field(min_length=1, max_length=10_000)
