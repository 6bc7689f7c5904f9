"""SMS: provider settings, tenant keywords, inbound numbers, and the inbound messages themselves."""

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from samtykke.domain.sms_signatures import VonageSignatureMethod
from samtykke.models.common import Model


class SmsProvider(StrEnum):
    """Who delivered an inbound SMS; the consent log's actor id for the changes it makes."""

    TWILIO = "twilio"
    VONAGE = "vonage"
    AWS = "aws-end-user-messaging"


class TenantKeywordAction(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    CONFIRM = "confirm"  # confirms a pending SMS double opt-in (the default is JA; YES, an opt-in, does too)
    HELP = "help"


class TwilioSettingsUpdate(Model):
    """The account's auth token, which signs Twilio's webhooks. Stored sealed; never returned."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"example": {"auth_token": "12345678901234567890123456789012"}},
    )
    auth_token: str = Field(min_length=16, max_length=256)


class VonageSettingsUpdate(Model):
    """The account's signature secret and the signature method chosen in Vonage's dashboard."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {"signature_secret": "example-vonage-signature-secret", "signature_method": "sha256"}
        },
    )
    signature_secret: str = Field(min_length=8, max_length=256)
    signature_method: VonageSignatureMethod = VonageSignatureMethod.MD5HASH


class SmsProviderStatus(Model):
    """Whether a provider's secret is set. The secret itself is never returned."""

    provider: SmsProvider
    configured: bool
    signature_method: VonageSignatureMethod | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class SmsSettings(Model):
    providers: list[SmsProviderStatus]
    numbers: list[str] = Field(description="Inbound numbers (E.164) that route AWS End User Messaging SMS here")


class SmsKeywordCreate(Model):
    """A tenant keyword: the whole message, in one locale, for every SMS purpose or scoped to one."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {"keyword": "NYHEDER STOP", "action": "opt_out", "locale": "da", "purpose": "e-marketing"}
        },
    )
    keyword: str = Field(min_length=1, max_length=40)
    action: TenantKeywordAction
    locale: str = Field(pattern=r"^[a-z]{2}$", description="The language its confirmation is sent in")
    purpose: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Scope the keyword to one purpose with an SMS channel; omit it for every SMS purpose",
    )


class SmsKeyword(Model):
    keyword_id: str
    keyword: str
    action: TenantKeywordAction
    locale: str
    purpose: str | None = None
    created_at: datetime


class DefaultSmsKeyword(Model):
    keyword: str
    action: TenantKeywordAction
    locale: str | None = None


class SmsKeywordList(Model):
    keywords: list[SmsKeyword]
    defaults: list[DefaultSmsKeyword]


class SmsNumberCreate(Model):
    """A long code or short code of the tenant's on AWS End User Messaging, whose inbound SMS arrive by SNS."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"example": {"number": "+4570202020"}}
    )
    number: str = Field(min_length=3, max_length=32)


class SmsNumber(Model):
    number: str
    created_at: datetime


class SmsSuppression(Model):
    purpose: str | None = Field(description="The purpose suppressed; null for every purpose")
    reason: str
    at: datetime | None = None
    keyword: str | None = None
    provider: str | None = None


class SmsAddressStatus(Model):
    """What holds for one phone number on the SMS channel."""

    phone: str
    contact_id: str | None = None
    suppressed_for_all: bool
    suppressions: list[SmsSuppression]


class SmsWebhookAck(Model):
    """Vonage's answer: 200 and what the message did."""

    status: str = "ok"
    action: str


class AwsInboundSms(Model):
    """The JSON message AWS End User Messaging SMS publishes to the two-way SNS topic."""

    model_config = ConfigDict(extra="ignore")
    originationNumber: str = Field(min_length=1, max_length=32)  # AWS's own field names
    destinationNumber: str = Field(min_length=1, max_length=32)
    messageBody: str = Field(default="", max_length=2000)
    inboundMessageId: str = Field(min_length=1, max_length=200)
    messageKeyword: str | None = Field(default=None, max_length=100)
    previousPublishedMessageId: str | None = Field(default=None, max_length=200)
