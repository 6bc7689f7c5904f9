"""A tenant (a customer organisation) and the settings it maintains."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class Plan(StrEnum):
    BASIC = "basic"
    PLUS = "plus"
    ENTERPRISE = "enterprise"


class SubProcessor(BaseModel):
    """A sub-processor or data-sharing partner, with the date its data agreement took effect."""

    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(default="", max_length=500)
    agreement_date: date


class Tenant(BaseModel):
    tenant_id: str
    name: str
    plan: Plan = Plan.BASIC
    country: str = Field(default="DK", pattern=r"^[A-Z]{2}$")
    default_locale: str = "en"
    privacy_policy_url: str | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    allowed_redirects: list[str] = Field(default_factory=list)
    sub_processors: list[SubProcessor] = Field(default_factory=list)
    sensitive_fields: list[str] = Field(default_factory=list)
    created_at: datetime
    # Emailed links (unsubscribe, preference centre) are signed with link key `link_key_version`; links signed
    # with the version before it verify until `link_key_previous_valid_until` (see services/links.py).
    link_key_version: int = Field(default=1, ge=1)
    link_key_rotated_at: datetime | None = None
    link_key_previous_valid_until: datetime | None = None


class TenantSettingsUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "privacy_policy_url": "https://example.com/privacy",
                "default_locale": "da",
                "sub_processors": [
                    {"name": "Mailchimp", "purpose": "Newsletter delivery", "agreement_date": "2020-06-01"}
                ],
            }
        },
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    default_locale: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    privacy_policy_url: HttpUrl | None = None
    allowed_origins: list[HttpUrl] | None = Field(default=None, max_length=50)
    allowed_redirects: list[HttpUrl] | None = Field(default=None, max_length=50)
    sub_processors: list[SubProcessor] | None = Field(default=None, max_length=100)
    sensitive_fields: list[str] | None = Field(default=None, max_length=50)
