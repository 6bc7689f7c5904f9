"""Consent capture and double opt-in, through the real handler, on moto."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from samtykke.adapters import aws as aws_clients
from samtykke.domain.access import Role
from samtykke.local.outbox import read_outbox
from tests.integration.conftest import ACME_ORIGIN, ACME_THANKS, TenantFixture, body_of

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


def table_items(aws: Any) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": aws.table_name}
    while True:
        page = client.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def consent_log(invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture, email: str) -> Any:
    event = api_event(
        "admin_request",
        path="/v1/admin/consent-log",
        path_parameters={"proxy": "consent-log"},
        query={"email": email},
        authorizer=tenant.authorizer(),
    )
    response = invoke("admin_api", event)
    assert response["statusCode"] == 200, response["body"]
    return body_of(response)


def confirmation_link(to: str) -> str:
    mails = [m for m in read_outbox() if m["channel"] == "email" and to in m["to"]]
    assert mails, f"no confirmation email to {to}"
    message = email.message_from_string(mails[-1]["raw"], policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"https://\S+/v1/public/confirm/([A-Za-z0-9_\-.]+)", text)
    assert match, text
    return match.group(1)


def test_json_post_with_double_opt_in_stays_pending_until_the_link_is_opened(
    aws: Any, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    # Given a web form posting JSON for e-marketing, which asks for double opt-in
    response = invoke("consent_capture", api_event("consent_capture_json"))

    # Then the consent is recorded as pending, and a confirmation email goes out
    assert response["statusCode"] == 201, response["body"]
    result = body_of(response)
    assert result["purposes"] == [
        {
            "purpose": "e-marketing",
            "status": "pending",
            "channels": [
                {"channel": "email", "status": "pending", "event_id": result["purposes"][0]["channels"][0]["event_id"]}
            ],
        }
    ]
    assert result["confirmation_sent"] is True
    assert response["headers"]["Access-Control-Allow-Origin"] == ACME_ORIGIN
    token = confirmation_link("anna@example.dk")

    # When the person opens the link and presses its button
    confirm = api_event("confirm_post", path=f"/v1/public/confirm/{token}", path_parameters={"token": token})
    page = invoke("consent_capture", confirm)

    # Then a Danish page thanks them, and the log holds the grant and the confirmation, with evidence
    assert page["statusCode"] == 200
    assert "Tak: dit abonnement er bekræftet" in page["body"]
    log = consent_log(invoke, api_event, tenant, "Anna@Example.dk")
    assert [(e["type"], e["status"]) for e in log["events"]] == [("grant", "pending"), ("confirm", "granted")]
    assert log["chain_intact"] is True
    grant, confirmation = log["events"]
    assert grant["evidence"]["ip"] == "203.0.113.7"
    assert grant["evidence"]["page_url"] == "https://www.acme.example/signup"
    assert (grant["text"]["locale"], grant["text"]["version"]) == ("da", 1)
    assert len(grant["text"]["sha256"]) == 64
    assert confirmation["evidence"]["ip"] == "203.0.113.7"
    assert confirmation["actor"]["type"] == "contact"

    # And opening the link again changes nothing
    again = invoke("consent_capture", confirm)
    assert again["statusCode"] == 200
    assert "Allerede bekræftet" in again["body"]
    assert len(consent_log(invoke, api_event, tenant, "anna@example.dk")["events"]) == 2


def test_plain_html_form_post_redirects_to_an_allowed_url(
    aws: Any, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    response = invoke("consent_capture", api_event("consent_capture_form"))

    assert response["statusCode"] == 303, response["body"]
    assert response["headers"]["Location"] == ACME_THANKS
    log = consent_log(invoke, api_event, tenant, "anna@example.dk")
    by_purpose = {e["purpose"]: e["status"] for e in log["events"]}
    # Sales and service needs no double opt-in; e-marketing waits for its confirmation.
    assert by_purpose == {"e-marketing": "pending", "sales-and-service": "granted"}


def test_a_minor_is_never_granted_directly(
    aws: Any, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    # A Danish 12-year-old is under Denmark's age of digital consent (13)
    body = {"phone": "+45 20 12 34 56", "purpose": ["e-marketing"], "birth_date": "2014-06-01"}
    response = invoke("consent_capture", api_event("consent_capture_json", json_body=body))

    assert response["statusCode"] == 201, response["body"]
    assert body_of(response)["purposes"][0]["status"] == "pending_parental"


def test_nothing_personal_is_stored_in_plaintext(
    aws: Any, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    body = {
        "email": "secret.person@example.dk",
        "phone": "20123456",
        "purpose": ["e-marketing"],
        "first_name": "Hemmelig",
        "national_id": "010190-1234",
    }
    assert invoke("consent_capture", api_event("consent_capture_json", json_body=body))["statusCode"] == 201

    dump = json.dumps(table_items(aws), default=str).lower()
    for secret in ("secret.person", "hemmelig", "20123456", "203.0.113.7", "010190"):
        assert secret not in dump

    # The national ID is kept, sealed, and shown only to staff with `sensitive:read`.
    contact_id = consent_log(invoke, api_event, tenant, "secret.person@example.dk")["contact_id"]
    for grants, shown in (("", "[redacted]"), ("sensitive:read", "010190-1234")):
        authorizer = {**tenant.authorizer(Role.EDITOR), "grants": grants}
        event = api_event("admin_request", path=f"/v1/admin/contacts/{contact_id}", authorizer=authorizer)
        response = invoke("admin_api", event)
        assert response["statusCode"] == 200, response["body"]
        assert (body_of(response)["first_name"], body_of(response)["national_id"]) == ("Hemmelig", shown)


BAD_INPUTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("missing address", {"body": json.dumps({"purpose": ["e-marketing"]})}, 422, "address_required"),
    (
        "malformed email",
        {"body": json.dumps({"email": "not-an-email", "purpose": ["e-marketing"]})},
        422,
        "invalid_email",
    ),
    ("malformed phone", {"body": json.dumps({"phone": "12", "purpose": ["e-marketing"]})}, 422, "invalid_phone"),
    ("no purpose", {"body": json.dumps({"email": "a@example.dk", "purpose": []})}, 422, "validation_failed"),
    ("unknown purpose", {"body": json.dumps({"email": "a@example.dk", "purpose": ["spam"]})}, 422, "unknown_purpose"),
    (
        "unknown source",
        {"body": json.dumps({"email": "a@example.dk", "purpose": ["e-marketing"], "source": "x"})},
        422,
        "unknown_source",
    ),
    (
        "unknown text version",
        {"body": json.dumps({"email": "a@example.dk", "purpose": ["e-marketing"], "text_version": 9})},
        422,
        "unknown_text_version",
    ),
    (
        "unknown field",
        {"body": json.dumps({"email": "a@example.dk", "purpose": ["e-marketing"], "x": 1})},
        422,
        "validation_failed",
    ),
    ("invalid JSON", {"body": '{"email": '}, 400, "invalid_json"),
    ("wrong content type", {"headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
    ("multipart without boundary", {"headers": {"content-type": "multipart/form-data"}}, 400, "malformed_multipart"),
    (
        "body over 64 KiB",
        {"body": json.dumps({"email": "a@example.dk", "purpose": ["e-marketing"], "first_name": "x" * 70_000})},
        413,
        "payload_too_large",
    ),
    ("body flagged base64 that is not", {"body": "%%%not base64%%%", "base64_encoded": True}, 400, "malformed_body"),
    ("disallowed origin", {"headers": {"origin": "https://evil.example"}}, 403, "origin_not_allowed"),
    (
        "disallowed redirect",
        {
            "body": json.dumps(
                {"email": "a@example.dk", "purpose": ["e-marketing"], "redirect": "https://evil.example/"}
            )
        },
        400,
        "redirect_not_allowed",
    ),
    (
        "unknown tenant",
        {"path": "/v1/public/nobody/consents", "path_parameters": {"tenant_id": "nobody"}},
        404,
        "tenant_not_found",
    ),
]


@pytest.mark.parametrize(("case", "changes", "status", "code"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_a_coded_4xx_and_writes_nothing(
    aws: Any,
    tenant: TenantFixture,
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
    case: str,
    changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = table_items(aws)
    response = invoke("consent_capture", api_event("consent_capture_json", **changes))

    assert response["statusCode"] == status, response["body"]
    assert body_of(response)["error"]["code"] == code
    assert table_items(aws) == before


def test_an_inactive_purpose_is_refused(
    aws: Any, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    deactivate = api_event(
        "admin_request",
        path="/v1/admin/purposes/e-marketing",
        path_parameters={"proxy": "purposes/e-marketing"},
        json_body={"active": False},
        authorizer=tenant.authorizer(),
    )
    deactivate["requestContext"]["http"]["method"] = "PATCH"
    assert invoke("admin_api", deactivate)["statusCode"] == 200

    response = invoke("consent_capture", api_event("consent_capture_json"))

    assert response["statusCode"] == 422
    assert body_of(response)["error"]["code"] == "purpose_inactive"


def test_cors_preflight_answers_allowed_origins_only(
    aws: Any, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    allowed = invoke("consent_capture", api_event("consent_preflight"))
    assert allowed["statusCode"] == 204
    assert allowed["headers"]["Access-Control-Allow-Origin"] == ACME_ORIGIN
    assert "POST" in allowed["headers"]["Access-Control-Allow-Methods"]

    refused = invoke("consent_capture", api_event("consent_preflight", headers={"origin": "https://evil.example"}))
    assert refused["statusCode"] == 403
    assert "Access-Control-Allow-Origin" not in refused.get("headers", {})


def test_dynamodb_throttling_is_a_retryable_503(
    aws: Any,
    tenant: TenantFixture,
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "TransactWriteItems"
    )

    def refuse(**_: Any) -> None:
        raise throttled

    monkeypatch.setattr(aws_clients.dynamodb(), "transact_write_items", refuse)
    response = invoke("consent_capture", api_event("consent_capture_json"))

    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"
    assert body_of(response)["error"]["code"] == "throttled"
