"""`POST /v1/webhooks/sms/twilio/{tenant_id}` and `POST /v1/webhooks/sms/vonage/{tenant_id}`: inbound SMS.

Each request is verified with the tenant's provider secret before anything is read from it; a missing or wrong
signature gets 403 and changes nothing. Then the message goes to `services/sms_inbound.SmsInbox.receive`, the
same path the SNS (AWS End User Messaging) consumer uses.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.api.params import TenantId
from samtykke.api.request import http_event
from samtykke.api.responses import json_error_doc
from samtykke.api.webhook_url import called_url
from samtykke.domain.errors import BadRequest, UnsupportedMediaType
from samtykke.models.sms import SmsProvider, SmsWebhookAck
from samtykke.services.sms_inbound import InboundSms, sms_inbox
from samtykke.settings import get_settings

router = Router()

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 200


class MalformedWebhook(BadRequest):
    code = "malformed_webhook"


ERRORS: dict[int, OpenAPIResponse] = {
    400: json_error_doc("Malformed body, or a field missing (`malformed_webhook`)"),
    403: json_error_doc(
        "`signature_missing`, `invalid_signature`, `stale_timestamp` (Vonage), or `sms_provider_not_configured`"
    ),
    404: json_error_doc("Unknown tenant"),
    413: json_error_doc("Body over 64 KiB"),
    415: json_error_doc("Not form-encoded (Twilio) or JSON or form-encoded (Vonage)"),
    422: json_error_doc("The sender's number is not a phone number (`invalid_phone`)"),
    503: json_error_doc("Busy, or the same message is being processed; retry"),
}


def _media_type(event: APIGatewayProxyEventV2) -> str:
    return (event.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def _body_text(event: APIGatewayProxyEventV2) -> str:
    raw = event.body or ""
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
        return data.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedWebhook("The body is not UTF-8 text") from exc


def _form(event: APIGatewayProxyEventV2) -> dict[str, list[str]]:
    try:
        return parse_qs(_body_text(event), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as exc:
        raise MalformedWebhook("Too many form fields") from exc


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _required(value: str | None, name: str) -> str:
    if not value:
        raise MalformedWebhook(f"`{name}` is missing")
    return value


def twiml(reply: str | None) -> Response[str]:
    message = f"<Message>{escape(reply)}</Message>" if reply else ""
    return Response(
        status_code=200,
        content_type="application/xml",
        body=f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>',
    )


@router.post(
    "/v1/webhooks/sms/twilio/<tenant_id>",
    summary="Inbound SMS from Twilio",
    description="Twilio's form-encoded messaging webhook (`From`, `To`, `Body`, `MessageSid`, and `OptOutType` with "
    "Advanced Opt-Out). `X-Twilio-Signature` must verify with the tenant's auth token (set by `PUT "
    "/v1/admin/settings/sms/twilio`) over the URL Twilio called: give Twilio "
    "`{public base URL}/v1/webhooks/sms/twilio/{tenant_id}`. STOP-type keywords withdraw SMS consent and suppress "
    "the number, START-type keywords lift that again, HELP answers. The answer is TwiML with the tenant's "
    "localised confirmation, or an empty `<Response/>` when Twilio's Advanced Opt-Out has replied already.",
    tags=["sms webhooks"],
    responses={200: {"description": "TwiML", "content": {"application/xml": {}}}, **ERRORS},
)
def twilio_inbound(tenant_id: TenantId) -> Response[str]:
    event = http_event(router)
    if _media_type(event) != FORM:
        raise UnsupportedMediaType("Twilio posts application/x-www-form-urlencoded")
    params = _form(event)
    inbox = sms_inbox()
    signed = inbox.verify_twilio(
        tenant_id,
        called_url(event, get_settings().public_base_url),
        params,
        event.headers.get("x-twilio-signature"),
        event.headers.get("x-twilio-webhooks-signature-settings"),
    )
    message = InboundSms(
        provider=SmsProvider.TWILIO,
        tenant_id=tenant_id,
        message_id=_required(_one(params, "MessageSid") or _one(params, "SmsSid"), "MessageSid"),
        sender=_required(_one(params, "From"), "From"),
        body=_one(params, "Body") or "",
        opt_out_type=_one(params, "OptOutType"),
    )
    return twiml(inbox.receive(message, signed).reply)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedWebhook("Every field must be a string or a number")


def _vonage_params(event: APIGatewayProxyEventV2) -> dict[str, str]:
    media_type = _media_type(event)
    if media_type == FORM:
        form = _form(event)
        if any(len(values) > 1 for values in form.values()):
            raise MalformedWebhook("A field is repeated")
        return {name: values[0] for name, values in form.items()}
    if media_type == content_types.APPLICATION_JSON:
        try:
            body = json.loads(_body_text(event))
        except json.JSONDecodeError as exc:
            raise MalformedWebhook("The body is not valid JSON") from exc
        if not isinstance(body, dict) or len(body) > MAX_FIELDS:
            raise MalformedWebhook("The body must be a JSON object")
        return {str(name): _scalar(value) for name, value in body.items() if value is not None}
    raise UnsupportedMediaType("Vonage posts JSON or application/x-www-form-urlencoded")


def _vonage_time(value: str | None) -> datetime | None:
    """`message-timestamp` is UTC, `YYYY-MM-DD HH:MM:SS`."""
    try:
        return datetime.strptime(value or "", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _msisdn(value: str) -> str:
    """Vonage writes numbers internationally without the `+`."""
    value = value.strip()
    return value if value.startswith("+") or not value.isdigit() else f"+{value}"


@router.post(
    "/v1/webhooks/sms/vonage/<tenant_id>",
    summary="Inbound SMS from Vonage",
    description="Vonage's SMS API inbound webhook, as JSON (POST-JSON) or form-encoded (POST): `msisdn`, `to`, "
    "`messageId`, `text`, `timestamp`, `nonce`, `sig`…. The `sig` must verify with the tenant's signature secret "
    "and method (set by `PUT /v1/admin/settings/sms/vonage`), and the signed `timestamp` must be at most 5 minutes "
    "old. Same keywords and effect as Twilio. Answers 200 at once, so Vonage does not retry.",
    tags=["sms webhooks"],
    responses={200: {"description": "Received", "content": {"application/json": {"model": SmsWebhookAck}}}, **ERRORS},
)
def vonage_inbound(tenant_id: TenantId) -> Response[str]:
    event = http_event(router)
    params = _vonage_params(event)
    inbox = sms_inbox()
    signed = inbox.verify_vonage(tenant_id, params, now=inbox.svc.clock().timestamp())
    # One part of a concatenated long message is never a whole-message keyword.
    concatenated = params.get("concat", "").lower() == "true"
    message = InboundSms(
        provider=SmsProvider.VONAGE,
        tenant_id=tenant_id,
        message_id=_required(params.get("messageId"), "messageId"),
        sender=_msisdn(_required(params.get("msisdn"), "msisdn")),
        body="" if concatenated else params.get("text", ""),
        sent_at=_vonage_time(params.get("message-timestamp")),
    )
    outcome = inbox.receive(message, signed)
    ack = SmsWebhookAck(action=outcome.action.value)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=ack.model_dump_json())
