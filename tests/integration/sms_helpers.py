"""Shared by the SMS integration tests: signed provider calls, the admin API for SMS, and table snapshots."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import boto3
from twilio.request_validator import RequestValidator

from samtykke.adapters.repository import from_attributes
from samtykke.domain.access import Role
from tests.integration.conftest import TenantFixture

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
EventFactory = Callable[..., dict[str, Any]]

TOKEN = "12345678901234567890123456789012"
VONAGE_SECRET = "example-vonage-signature-secret"
HOST = "abc123.execute-api.eu-north-1.amazonaws.com"


def twilio_url(tenant_id: str, host: str = HOST, prefix: str = "") -> str:
    return f"https://{host}{prefix}/v1/webhooks/sms/twilio/{tenant_id}"


def twilio_params(
    body: str, sender: str = "+4520123456", sid: str = "SM00000000000000000000000000000001"
) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": sender,
        "To": "+4570202020",
        "Body": body,
        "NumMedia": "0",
        "FromCity": "",
    }


def twilio_event(
    api_event: EventFactory,
    params: dict[str, str],
    *,
    tenant_id: str = "acme",
    token: str = TOKEN,
    signed_url: str | None = None,
    signature: str | None = "sign",
    base64_body: bool = False,
) -> dict[str, Any]:
    body = urlencode(params)
    event = api_event(
        "sms_twilio", path=f"/v1/webhooks/sms/twilio/{tenant_id}", path_parameters={"tenant_id": tenant_id}
    )
    event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
    event["isBase64Encoded"] = base64_body
    if signature == "sign":
        signature = RequestValidator(token).compute_signature(signed_url or twilio_url(tenant_id), params)
    if signature is None:
        event["headers"].pop("x-twilio-signature", None)
    else:
        event["headers"]["x-twilio-signature"] = signature
    return event


def vonage_sig(params: dict[str, str], secret: str = VONAGE_SECRET, method: str = "sha256") -> str:
    """Vonage's documented algorithm, written out independently of the code under test."""
    payload = "".join(
        f"&{k}={str(params[k]).replace('&', '_').replace('=', '_')}" for k in sorted(params) if k != "sig"
    ).encode()
    if method == "md5hash":
        return hashlib.md5(payload + secret.encode(), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode(), payload, method).hexdigest()


def vonage_params(
    text: str,
    msisdn: str = "4520123456",
    message_id: str = "0A0000000123ABCD1",
    timestamp: int | None = None,
    secret: str = VONAGE_SECRET,
    method: str = "sha256",
) -> dict[str, str]:
    params = {
        "msisdn": msisdn,
        "to": "4570202020",
        "messageId": message_id,
        "text": text,
        "type": "text",
        "keyword": text.split(" ")[0].upper() if text else "",
        "api-key": "abcd1234",
        "message-timestamp": "2026-11-23 09:15:00",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "nonce": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    }
    params["sig"] = vonage_sig(params, secret, method)
    return params


def vonage_event(
    api_event: EventFactory, params: dict[str, str] | str, *, tenant_id: str = "acme", form: bool = False
) -> dict[str, Any]:
    event = api_event(
        "sms_vonage", path=f"/v1/webhooks/sms/vonage/{tenant_id}", path_parameters={"tenant_id": tenant_id}
    )
    if isinstance(params, str):
        event["body"] = params
    elif form:
        event["body"] = urlencode(params)
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    else:
        event["body"] = json.dumps(params)
    return event


def admin_call(api_event: EventFactory, invoke: Invoke, tenant: TenantFixture) -> Callable[..., dict[str, Any]]:
    def call(
        method: str,
        path: str,
        *,
        json_body: Any = None,
        query: dict[str, str] | None = None,
        role: Role = Role.ADMIN,
        function: str = "sms_admin",
    ) -> dict[str, Any]:
        event = api_event(
            "admin_request",
            path=path,
            path_parameters={"proxy": path.removeprefix("/v1/admin/")},
            json_body=json_body,
            query=query,
            authorizer=tenant.authorizer(role),
        )
        event["requestContext"]["http"]["method"] = method
        return invoke(function, event)

    return call


def table_snapshot(table_name: str) -> list[str]:
    """Every item of the table, as sorted canonical JSON: equal snapshots mean nothing was written."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table_name}
    while True:
        page = client.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def plain(value: Any) -> Any:
        return base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)

    return sorted(json.dumps(from_attributes(item), sort_keys=True, default=plain) for item in items)
