"""Admin: SMS provider secrets, keywords, inbound numbers, and what holds for one number on SMS."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.domain.access import Permission
from samtykke.models.sms import (
    SmsAddressStatus,
    SmsKeyword,
    SmsKeywordCreate,
    SmsKeywordList,
    SmsNumber,
    SmsNumberCreate,
    SmsProvider,
    SmsProviderStatus,
    SmsSettings,
    TwilioSettingsUpdate,
    VonageSettingsUpdate,
)
from samtykke.services import sms_admin
from samtykke.services.context import services

router = Router()
READ = guarded(Permission.SETTINGS_READ)
WRITE = guarded(Permission.SMS_SETTINGS_WRITE)
TAGS = ["sms"]


def _tenant() -> str:
    return current_principal(router).tenant_id


def _principal_id() -> str:
    return current_principal(router).principal_id


def _no_content() -> Response[str]:
    return Response(status_code=204, body="")


@router.get(
    "/v1/admin/settings/sms",
    summary="SMS settings: which provider secrets are set, and the inbound numbers",
    description="Secrets are never returned, only whether each is set, when and by whom.",
    tags=TAGS,
    **READ,
)
def get_sms_settings() -> SmsSettings:
    return sms_admin.sms_settings(services(), _tenant())


@router.put(
    "/v1/admin/settings/sms/twilio",
    summary="Set the Twilio auth token that signs Twilio's webhooks",
    description="Stored sealed under the tenant's KMS-protected key, never in plaintext and never returned. "
    "Point the Twilio number's messaging webhook at `{public base URL}/v1/webhooks/sms/twilio/{tenant_id}`.",
    tags=TAGS,
    **WRITE,
)
def put_twilio(settings: Annotated[TwilioSettingsUpdate, Body()]) -> SmsProviderStatus:
    return sms_admin.set_twilio(services(), _tenant(), settings, _principal_id())


@router.put(
    "/v1/admin/settings/sms/vonage",
    summary="Set the Vonage signature secret and signature method",
    description="`signature_method` is what the Vonage dashboard's API settings show: `md5hash` (MD5 hash), or "
    "the HMAC methods `md5`, `sha1`, `sha256`, `sha512`. Stored sealed, never returned. Point the Vonage number's "
    "inbound webhook at `{public base URL}/v1/webhooks/sms/vonage/{tenant_id}`.",
    tags=TAGS,
    **WRITE,
)
def put_vonage(settings: Annotated[VonageSettingsUpdate, Body()]) -> SmsProviderStatus:
    return sms_admin.set_vonage(services(), _tenant(), settings, _principal_id())


@router.delete(
    "/v1/admin/settings/sms/<provider>",
    summary="Remove a provider's secret; its webhooks then answer 403",
    tags=TAGS,
    responses={204: {"description": "Removed"}},
    **WRITE,
)
def delete_provider(provider: Literal["twilio", "vonage"]) -> Response[str]:
    sms_admin.remove_provider(services(), _tenant(), SmsProvider(provider))
    return _no_content()


@router.get(
    "/v1/admin/sms/keywords",
    summary="The tenant's SMS keywords, and the defaults every tenant has",
    tags=TAGS,
    **READ,
)
def list_keywords() -> SmsKeywordList:
    return sms_admin.list_keywords(services(), _tenant())


@router.post(
    "/v1/admin/sms/keywords",
    summary="Add an SMS keyword",
    description="A whole-message keyword in one locale (the language its confirmation is sent in), for every SMS "
    "purpose or scoped to one. It may not read the same, after case and accent folding, as a default or an existing "
    "keyword (409 `keyword_conflict`). Webhooks in other containers see it within 30 seconds.",
    tags=TAGS,
    **WRITE,
)
def create_keyword(new: Annotated[SmsKeywordCreate, Body()]) -> tuple[SmsKeyword, int]:
    return sms_admin.create_keyword(services(), _tenant(), new, _principal_id()), 201


@router.delete(
    "/v1/admin/sms/keywords/<keyword_id>",
    summary="Remove an SMS keyword",
    tags=TAGS,
    responses={204: {"description": "Removed"}},
    **WRITE,
)
def delete_keyword(keyword_id: str) -> Response[str]:
    sms_admin.delete_keyword(services(), _tenant(), keyword_id)
    return _no_content()


@router.get("/v1/admin/sms/numbers", summary="The tenant's inbound SMS numbers", tags=TAGS, **READ)
def list_numbers() -> list[SmsNumber]:
    return sms_admin.list_numbers(services(), _tenant())


@router.post(
    "/v1/admin/sms/numbers",
    summary="Register an inbound number (AWS End User Messaging two-way SMS)",
    description="Inbound SMS that AWS End User Messaging publishes to the inbound SNS topic are routed to the tenant "
    "that registered their `destinationNumber`. A number belongs to one tenant (409 `sms_number_taken`).",
    tags=TAGS,
    **WRITE,
)
def register_number(new: Annotated[SmsNumberCreate, Body()]) -> tuple[SmsNumber, int]:
    return sms_admin.register_number(services(), _tenant(), new), 201


@router.delete(
    "/v1/admin/sms/numbers/<number>",
    summary="Unregister an inbound number (E.164, e.g. `%2B4570202020`)",
    tags=TAGS,
    responses={204: {"description": "Removed"}},
    **WRITE,
)
def release_number(number: str) -> Response[str]:
    sms_admin.release_number(services(), _tenant(), unquote(number))  # `%2B45…` or `+45…`
    return _no_content()


@router.get(
    "/v1/admin/sms/status",
    summary="A phone number's SMS suppressions (STOP and others), whether or not it belongs to a contact",
    tags=TAGS,
    **guarded(Permission.CONSENT_LOG_READ),
)
def number_status(phone: Annotated[str, Query(max_length=32, description="The phone number")]) -> SmsAddressStatus:
    return sms_admin.address_status(services(), _tenant(), phone)
