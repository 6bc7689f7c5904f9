"""Consent capture, the consent log and the current consent state."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from samtykke.domain.consent import ActorType, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.domain.custom_fields import MAX_CUSTOM_FIELDS
from samtykke.models.common import FormTolerantModel, Model
from samtykke.models.strict import HeaderSafeStr, IsoDate

MAX_PURPOSES_PER_SUBMISSION = 10
# Values for the tenant's declared custom fields, by name, as posted; each is checked by its declared type.
PostedCustomFields = dict[Annotated[str, Field(max_length=40)], str | int | bool | None]
# Stored values, checked and normalised (dates as ISO strings).
CustomFieldValues = dict[str, str | int | bool]


class ConsentSubmission(FormTolerantModel):
    """A web form's consent post, as JSON or `application/x-www-form-urlencoded`."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "email": "anna@example.dk",
                "purpose": ["e-marketing"],
                "locale": "da",
                "source": "web-form",
                "first_name": "Anna",
            }
        }
    )
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    purpose: list[str] = Field(min_length=1, max_length=MAX_PURPOSES_PER_SUBMISSION)
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}([-_][A-Za-z]{2})?$")
    source: str = Field(default="web-form", max_length=64)
    text_version: int | None = Field(default=None, ge=1)
    birth_date: IsoDate | None = None
    # Names are merge fields of campaign subjects, so they must be header-safe too.
    first_name: HeaderSafeStr | None = Field(default=None, max_length=100)
    last_name: HeaderSafeStr | None = Field(default=None, max_length=100)
    national_id: str | None = Field(default=None, max_length=32)
    custom_fields: PostedCustomFields | None = Field(
        default=None,
        max_length=MAX_CUSTOM_FIELDS,
        description="The tenant's declared custom fields by name (a form posts `custom_fields[name]=value`); an "
        "undeclared one is 422 `unknown_custom_field`, a bad value 422 `invalid_custom_field`",
    )
    # Where a minor's consent needs a parent (GDPR Art. 8), the parent's email, who gets a request to confirm it.
    parent_email: str | None = Field(default=None, max_length=320)
    page_url: str | None = Field(default=None, max_length=2048)
    redirect: HeaderSafeStr | None = Field(default=None, max_length=2048)  # the 303's Location
    error_redirect: HeaderSafeStr | None = Field(
        default=None,
        max_length=2048,
        description="Where a browser form post that is refused goes instead: a 303 with `error=<code>` added. It "
        "must be on the tenant's allowed redirects; otherwise the browser gets a small localised error page",
    )
    # The browser's Global Privacy Control signal (`navigator.globalPrivacyControl`), kept as evidence.
    global_privacy_control: bool | None = None


class CustomFieldsUpdate(Model):
    """Staff setting some of a contact's custom fields; the others stay as they are."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"custom_fields": {"loyalty_no": 4711}}})
    custom_fields: PostedCustomFields = Field(min_length=1, max_length=MAX_CUSTOM_FIELDS)


class Evidence(Model):
    """What proves how a consent was given. Personal data: stored encrypted with the contact's key."""

    ip: str | None = None
    user_agent: str | None = None
    page_url: str | None = None
    at: datetime
    note: str | None = None
    # An SMS keyword's change: the keyword as matched, and the provider's id for the inbound message.
    keyword: str | None = None
    provider_message_id: str | None = None
    # A profile change this write proposed (kept pending) or applied (on the address owner's confirmation).
    profile_change: Literal["proposed", "applied"] | None = None
    profile_fields: list[str] | None = None
    # A minor's grant: the parent asked to confirm it; or, on the parent's confirmation, the parent who confirmed.
    parent_email: str | None = None
    # The browser's Global Privacy Control signal when the form (e.g. the embeddable snippet) sent it.
    global_privacy_control: bool | None = None


class Actor(Model):
    type: ActorType
    id: str | None = None
    # Who the actor relayed the change for, e.g. an SMS provider passing on the contact's STOP.
    on_behalf_of: ActorType | None = None


class TextRef(Model):
    purpose_id: str
    locale: str
    version: int
    sha256: str


class ConsentEvent(Model):
    """One entry of the append-only consent log."""

    event_id: str
    contact_id: str
    seq: int
    type: EventType
    purpose: str
    channel: Channel
    status: ConsentStatus
    legal_basis: LegalBasis
    source: str
    text: TextRef | None = None
    declaration_id: str | None = None  # the lawful-import declaration behind an import event
    parental_consent: bool | None = None  # a parent confirmed it (GDPR Art. 8)
    actor: Actor
    at: datetime
    evidence: Evidence | None = None
    prev_hash: str
    hash: str


class ConsentState(Model):
    contact_id: str
    purpose: str
    channel: Channel
    status: ConsentStatus
    legal_basis: LegalBasis
    source: str
    event_id: str
    seq: int
    updated_at: datetime


class ChannelOutcome(Model):
    channel: Channel
    status: ConsentStatus
    event_id: str


class PurposeOutcome(Model):
    purpose: str
    status: ConsentStatus
    channels: list[ChannelOutcome]


class CaptureResult(Model):
    contact_id: str
    purposes: list[PurposeOutcome]
    confirmation_sent: bool = False


class ContactSummary(Model):
    contact_id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    national_id: str | None = None
    locale: str | None = None
    custom_fields: CustomFieldValues | None = None  # sensitive ones redacted without `sensitive:read`
    created_at: datetime
    consents: list[ConsentState]


class ContactListItem(Model):
    contact_id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    created_at: datetime
    status: ConsentStatus | None = Field(
        default=None, description="The consent status for `purpose` when filtered by it"
    )


class ContactList(Model):
    contacts: list[ContactListItem]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


class ConsentLog(Model):
    contact_id: str
    chain_intact: bool
    events: list[ConsentEvent]


class ContactProfile(Model):
    """The decrypted personal data of a contact. Never logged."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    locale: str | None = None
    # A sensitive field: sealed with the rest, and shown to staff only with `sensitive:read` (domain/masking.py).
    national_id: str | None = None
    # The tenant's custom fields (domain/custom_fields.py), sealed with the rest; sensitive ones are shown like
    # the national ID.
    custom_fields: CustomFieldValues | None = None


def evidence_dict(evidence: Evidence | None) -> dict[str, Any] | None:
    return None if evidence is None else evidence.model_dump(mode="json", exclude_none=True)
