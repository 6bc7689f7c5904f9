"""Issue 20, "no input gives a 500": each finding of the attack run, replayed against the real handlers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import EventFactory
from tests.integration.conftest import ACME_THANKS, TenantFixture, body_of

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
DEEP_JSON = "[" * 969 + "]" * 969  # the attack run's body: 1,938 bytes

# (function, event, path, method) for every endpoint that reads JSON, the unauthenticated ones first.
JSON_ENDPOINTS = [
    ("consent_capture", "consent_capture_json", "/v1/public/acme/consents", "POST"),
    ("auth", "auth_login", "/v1/auth/login", "POST"),
    ("auth", "auth_login", "/v1/auth/password-reset", "POST"),
    ("auth", "auth_login", "/v1/auth/password-reset/abc", "POST"),
    ("unsubscribe", "preference_link_request", "/v1/public/acme/preference-link", "POST"),
    ("unsubscribe", "unsubscribe_post_form", "/u/TOKEN", "POST"),
    ("unsubscribe", "preferences_post", "/p/TOKEN", "POST"),
    ("sms_webhooks", "sms_vonage", "/v1/webhooks/sms/vonage/acme", "POST"),
    ("admin_api", "admin_request", "/v1/admin/settings", "PATCH"),
    ("admin_api", "admin_request", "/v1/admin/sources/web-form", "PATCH"),
    ("links_admin", "admin_link_key_rotate", "/v1/admin/settings/link-key/rotate", "POST"),
    ("sms_admin", "admin_request", "/v1/admin/sms/keywords", "POST"),
]


def _with(event: dict[str, Any], path: str, method: str, body: str, content_type: str) -> dict[str, Any]:
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"]["content-type"] = content_type
    event["body"] = body
    event["isBase64Encoded"] = False
    return event


@pytest.mark.parametrize(("function", "event_name", "path", "method"), JSON_ENDPOINTS)
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(
    invoke: Invoke,
    api_event: EventFactory,
    tenant: TenantFixture,
    function: str,
    event_name: str,
    path: str,
    method: str,
) -> None:
    # Given the attack run's 969-level array, When it is posted, Then it is refused before any parser sees it
    event = _with(api_event(event_name, authorizer=tenant.authorizer()), path, method, DEEP_JSON, "application/json")
    response = invoke(function, event)
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "json_too_deep"


def test_json_a_little_deep_is_still_parsed(invoke: Invoke, api_event: EventFactory, tenant: TenantFixture) -> None:
    body = '{"label": "Fair", "active": true, "x": ' + "[" * 20 + "]" * 20 + "}"
    event = _with(
        api_event("admin_request", authorizer=tenant.authorizer()),
        "/v1/admin/sources/web-form",
        "PATCH",
        body,
        "application/json",
    )
    response = invoke("admin_api", event)
    # Not refused as too deep: the schema answers (the unknown field `x`)
    assert response["statusCode"] == 422


def test_brackets_inside_strings_do_not_count_as_nesting(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture
) -> None:
    body = '{"label": "' + "[" * 500 + '"}'
    event = _with(
        api_event("admin_request", authorizer=tenant.authorizer()),
        "/v1/admin/sources/web-form",
        "PATCH",
        body,
        "application/json",
    )
    assert invoke("admin_api", event)["statusCode"] == 422  # too long a label, not too deep


def test_a_body_over_the_size_limit_is_a_413(invoke: Invoke, api_event: EventFactory, tenant: TenantFixture) -> None:
    event = _with(
        api_event("consent_capture_json"),
        "/v1/public/acme/consents",
        "POST",
        '{"email": "' + "a" * 70_000 + '"}',
        "application/json",
    )
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 413
    assert body_of(response)["error"]["code"] == "payload_too_large"


def test_an_empty_settings_patch_changes_nothing_and_answers_200(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture
) -> None:
    path = "/v1/admin/settings"
    before = invoke("admin_api", _with(api_event("admin_request", authorizer=tenant.authorizer()), path, "GET", "", ""))
    event = _with(api_event("admin_request", authorizer=tenant.authorizer()), path, "PATCH", "{}", "application/json")
    response = invoke("admin_api", event)
    assert response["statusCode"] == 200, response["body"]
    assert body_of(response) == body_of(before)


@pytest.mark.parametrize("path", ["/v1/admin/settings", "/v1/admin/sources/web-form", "/v1/admin/purposes/x"])
def test_a_patch_with_no_body_at_all_is_a_422(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture, path: str
) -> None:
    event = _with(api_event("admin_request", authorizer=tenant.authorizer()), path, "PATCH", "", "application/json")
    response = invoke("admin_api", event)
    assert response["statusCode"] == 422
    assert body_of(response)["error"]["code"] == "validation_failed"


def test_an_empty_patch_of_an_existing_source_returns_it_unchanged(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture
) -> None:
    create = _with(
        api_event("admin_request", authorizer=tenant.authorizer()),
        "/v1/admin/sources",
        "POST",
        '{"source_id": "fair", "label": "Fair"}',
        "application/json",
    )
    created = invoke("admin_api", create)
    assert created["statusCode"] == 201
    patch = _with(
        api_event("admin_request", authorizer=tenant.authorizer()),
        "/v1/admin/sources/fair",
        "PATCH",
        "{}",
        "application/json",
    )
    response = invoke("admin_api", patch)
    assert response["statusCode"] == 200
    assert (
        body_of(response) == body_of(created) == {"source_id": "fair", "label": "Fair", "active": True, "public": False}
    )


@pytest.mark.parametrize(
    "body",
    ['{"name": null}', '{"country": null}', '{"pending_ttl_days": null}', '{"label": null}'],
)
def test_null_for_a_field_that_cannot_be_empty_is_a_422(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture, body: str
) -> None:
    path = "/v1/admin/sources/web-form" if "label" in body else "/v1/admin/settings"
    event = _with(api_event("admin_request", authorizer=tenant.authorizer()), path, "PATCH", body, "application/json")
    assert invoke("admin_api", event)["statusCode"] == 422


@pytest.mark.parametrize("name", ["Acme\r\nBcc: victim@example.com", "Acme\nX", "Acme\x00", "Acme\u2028X"])
def test_a_tenant_name_that_would_break_a_mail_header_is_refused_at_write_time(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture, name: str
) -> None:
    event = api_event("admin_request", authorizer=tenant.authorizer())
    response = invoke(
        "admin_api", _with(event, "/v1/admin/settings", "PATCH", _json({"name": name}), "application/json")
    )
    assert response["statusCode"] == 422
    assert body_of(response)["error"]["code"] == "header_unsafe"
    # And the stored name is untouched, so mail keeps going out
    get = invoke(
        "admin_api",
        _with(api_event("admin_request", authorizer=tenant.authorizer()), "/v1/admin/settings", "GET", "", ""),
    )
    assert body_of(get)["name"] == "Acme A/S"


def test_an_email_subject_with_a_line_break_is_refused(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture
) -> None:
    from samtykke.models.campaign import MessageContent

    with pytest.raises(ValueError, match="header_unsafe"):
        MessageContent.model_validate({"subject": "Hi\r\nBcc: x@example.com", "text": "Hello"})


@pytest.mark.parametrize(
    "redirect",
    [ACME_THANKS + "\r\nSet-Cookie: a=b", ACME_THANKS + "?a=\nb", ACME_THANKS.replace("/thanks", "/\rthanks")],
)
def test_a_raw_line_break_in_redirect_is_a_4xx(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture, redirect: str
) -> None:
    body = {"email": "crlf@example.dk", "purpose": ["e-marketing"], "redirect": redirect}
    event = _with(
        api_event("consent_capture_json"), "/v1/public/acme/consents", "POST", _json(body), "application/json"
    )
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 422
    assert body_of(response)["error"]["code"] == "header_unsafe"


def test_whitespace_around_a_redirect_is_trimmed_before_it_becomes_the_location(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture
) -> None:
    body = {"email": "trim@example.dk", "purpose": ["e-marketing"], "redirect": "\r\n" + ACME_THANKS + "\n"}
    event = _with(
        api_event("consent_capture_json"), "/v1/public/acme/consents", "POST", _json(body), "application/json"
    )
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 303
    assert response["headers"]["Location"] == ACME_THANKS


def test_a_multipart_part_that_is_not_utf8_is_a_400(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture
) -> None:
    boundary = "xYz"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'.encode()
        + b"\xff\xfe\xfa@example.dk"
        + f"\r\n--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="purpose"\r\n\r\ne-marketing\r\n'
        + f"--{boundary}--\r\n".encode()
    )
    event = _with(
        api_event("consent_capture_json"),
        "/v1/public/acme/consents",
        "POST",
        base64.b64encode(body).decode(),
        f"multipart/form-data; boundary={boundary}",
    )
    event["isBase64Encoded"] = True
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("birth_date", [0, "0", 19900101, "1990-1-1", "1990-01-01T00:00:00"])
def test_a_birth_date_must_be_an_iso_date(
    invoke: Invoke, api_event: EventFactory, tenant: TenantFixture, birth_date: Any
) -> None:
    body = {"email": "dates@example.dk", "purpose": ["e-marketing"], "birth_date": birth_date}
    event = _with(
        api_event("consent_capture_json"), "/v1/public/acme/consents", "POST", _json(body), "application/json"
    )
    assert invoke("consent_capture", event)["statusCode"] == 422


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
