"""A tenant (a customer organisation) and the settings it maintains."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, HttpUrl

from samtykke.domain.custom_fields import MAX_CUSTOM_FIELDS, CustomFieldType
from samtykke.domain.masking import plain_custom_field
from samtykke.models.common import Model, PatchModel
from samtykke.models.strict import HeaderSafeStr

DEFAULT_PENDING_TTL_DAYS = 7
MAX_PENDING_TTL_DAYS = 90  # the retention sweeper looks this many days back
DEFAULT_EVIDENCE_RETENTION_DAYS = 1825  # five years


class Plan(StrEnum):
    BASIC = "basic"
    PLUS = "plus"
    ENTERPRISE = "enterprise"


class SubProcessor(Model):
    """A sub-processor or data-sharing partner, with the date its data agreement took effect."""

    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(default="", max_length=500)
    agreement_date: date


class FineRate(Model):
    """A tenant's own fine rate for dry runs, in whole units of `currency`; it wins over the country's rate."""

    model_config = ConfigDict(extra="forbid")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    per_recipient: int = Field(ge=0, le=1_000_000)
    minimum: int = Field(default=0, ge=0, le=1_000_000_000)


class CustomField(Model):
    """A contact field the tenant declares (domain/custom_fields.py); a sensitive one is treated like a national ID."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z0-9_]{1,39}$")
    type: CustomFieldType
    sensitive: bool = False


# Built-in profile fields a tenant may also have redacted for staff without `sensitive:read` (`sensitive_fields`).
REDACTABLE_PROFILE_FIELDS = frozenset({"first_name", "last_name", "birth_date", "locale"})


# Locale -> the hint every marketing SMS ends with, e.g. {"da": "Afmeld: svar STOP"}; unset locales get the standard.
SmsOptOutHints = dict[Annotated[str, Field(pattern=r"^[a-z]{2}$")], Annotated[str, Field(min_length=4, max_length=80)]]


class Tenant(Model):
    tenant_id: str
    name: str
    plan: Plan = Plan.BASIC
    mfa_required: bool = Field(default=False, description="Set with PUT /v1/admin/settings/security")
    country: str = Field(default="DK", pattern=r"^[A-Z]{2}$")
    default_locale: str = "en"
    privacy_policy_url: str | None = None
    privacy_policy_version: str | None = None  # named in consent receipts
    allowed_origins: list[str] = Field(default_factory=list)
    allowed_redirects: list[str] = Field(default_factory=list)
    sub_processors: list[SubProcessor] = Field(default_factory=list)
    sensitive_fields: list[str] = Field(default_factory=list)  # built-in profile fields redacted like national IDs
    custom_fields: list[CustomField] = Field(default_factory=list)
    # Retention: how long an unconfirmed double opt-in waits before the sweeper expires it (services/retention.py),
    # and how long each evidence file stays locked (S3 Object Lock, governance mode) after its check.
    pending_ttl_days: int = Field(default=DEFAULT_PENDING_TTL_DAYS, ge=1, le=MAX_PENDING_TTL_DAYS)
    evidence_retention_days: int = Field(default=DEFAULT_EVIDENCE_RETENTION_DAYS, ge=30, le=3650)
    created_at: datetime
    # Emailed links (unsubscribe, preference centre) are signed with link key `link_key_version`; links signed
    # with the version before it verify until `link_key_previous_valid_until` (see services/links.py).
    link_key_version: int = Field(default=1, ge=1)
    link_key_rotated_at: datetime | None = None
    link_key_previous_valid_until: datetime | None = None
    # Campaigns: the SMS opt-out hint per locale, and a fine rate for dry runs that overrides the country's.
    sms_opt_out_hints: SmsOptOutHints = Field(default_factory=dict)
    fine_rate: FineRate | None = None

    def custom_field_types(self) -> dict[str, CustomFieldType]:
        return {field.name: field.type for field in self.custom_fields}

    def redacted_fields(self) -> list[str]:
        """What staff without `sensitive:read` see redacted besides national IDs and custom fields, and the custom
        fields they may see (domain/masking.py)."""
        return [*self.sensitive_fields, *(plain_custom_field(f.name) for f in self.custom_fields if not f.sensitive)]


class TenantSettingsUpdate(PatchModel):
    clearable = frozenset({"privacy_policy_url", "fine_rate"})
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "privacy_policy_url": "https://example.com/privacy",
                "default_locale": "da",
                "sub_processors": [
                    {"name": "Mailchimp", "purpose": "Newsletter delivery", "agreement_date": "2020-06-01"}
                ],
                "custom_fields": [
                    {"name": "loyalty_no", "type": "integer", "sensitive": False},
                    {"name": "member_cpr", "type": "national_id", "sensitive": True},
                ],
            }
        },
    )
    name: HeaderSafeStr | None = Field(default=None, min_length=1, max_length=200)  # the From header's name
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    default_locale: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    privacy_policy_url: HttpUrl | None = None
    privacy_policy_version: str | None = Field(default=None, min_length=1, max_length=50)
    allowed_origins: list[HttpUrl] | None = Field(default=None, max_length=50)
    allowed_redirects: list[HttpUrl] | None = Field(default=None, max_length=50)
    sub_processors: list[SubProcessor] | None = Field(default=None, max_length=100)
    sensitive_fields: list[str] | None = Field(
        default=None,
        max_length=len(REDACTABLE_PROFILE_FIELDS),
        description="Built-in profile fields to redact like national IDs: first_name, last_name, birth_date, "
        "locale. A custom field is made sensitive by its own `sensitive` flag",
    )
    custom_fields: list[CustomField] | None = Field(
        default=None,
        max_length=MAX_CUSTOM_FIELDS,
        description="The tenant's own contact fields, replacing the whole list. Removing one hides its values; it "
        "does not delete them (erasure does)",
    )
    pending_ttl_days: int | None = Field(default=None, ge=1, le=MAX_PENDING_TTL_DAYS)
    evidence_retention_days: int | None = Field(default=None, ge=30, le=3650)
    sms_opt_out_hints: SmsOptOutHints | None = Field(default=None, max_length=6)
    fine_rate: FineRate | None = None
