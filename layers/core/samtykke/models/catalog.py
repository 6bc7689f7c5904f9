"""Purposes, sources, legal-basis labels and consent texts: what a tenant maintains."""

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, model_validator

from samtykke.domain.consent import Channel, LegalBasis
from samtykke.domain.defaults import PUBLIC_SOURCES
from samtykke.domain.purposes import PurposeKind, check_default_basis, kind_of
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
    kind: PurposeKind = Field(
        default=PurposeKind.MARKETING,
        description="`marketing` (consent only) or `service` (may send as transactional; may use another basis)",
    )
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _stored_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("kind"):  # stored before kinds existed
            return {**data, "kind": kind_of(None, bool(data.get("marketing")))}
        return data


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
                "kind": "marketing",
            }
        },
    )
    purpose_id: str = Slug
    names: LocalisedNames = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    default_legal_basis: LegalBasis = LegalBasis.CONSENT
    double_opt_in: bool = False
    marketing: bool | None = Field(default=None, description="Deprecated: say `kind`")
    kind: PurposeKind | None = Field(default=None, description="Default: `marketing` (or from `marketing`)")

    @model_validator(mode="after")
    def _kind_and_basis(self) -> Self:
        kind = self.kind or kind_of(None, self.marketing if self.marketing is not None else True)
        if self.marketing is not None and (kind is PurposeKind.MARKETING) != self.marketing:
            raise ValueError("`marketing` and `kind` disagree")
        self.kind, self.marketing = kind, kind is PurposeKind.MARKETING
        check_default_basis(kind, self.default_legal_basis)
        return self


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
    kind: PurposeKind | None = None


class Source(Model):
    source_id: str
    label: str
    active: bool = True
    # Whether public form posts may name it. Sources stored before the flag existed take the standard default.
    public: bool = Field(default_factory=lambda data: data.get("source_id") in PUBLIC_SOURCES)


class SourceCreate(Model):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"source_id": "trade-fair", "label": "Trade fair"}}
    )
    source_id: str = Slug
    label: str = Field(min_length=1, max_length=100)
    public: bool = Field(default=False, description="Public form posts may name this source")


class SourceUpdate(PatchModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"label": "Trade fair 2026"}})
    label: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None
    public: bool | None = None


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
