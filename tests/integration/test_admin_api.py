"""The admin API's first part: catalogue, settings, contact search and the consent log, on moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from samtykke.domain.access import Role
from tests.integration.conftest import TenantFixture, body_of

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def admin(
    api_event: Callable[..., dict[str, Any]], invoke: Invoke, tenant: TenantFixture
) -> Callable[..., dict[str, Any]]:
    """Calls the admin API as the tenant's admin key (or another role)."""

    def call(
        method: str, path: str, *, json_body: Any = None, query: dict[str, str] | None = None, role: Role = Role.ADMIN
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
        return invoke("admin_api", event)

    return call


def test_a_new_tenant_starts_with_the_standard_purposes(admin: Callable[..., dict[str, Any]]) -> None:
    response = admin("GET", "/v1/admin/purposes")

    assert response["statusCode"] == 200
    purposes = {p["purpose_id"]: p for p in body_of(response)}
    assert set(purposes) == {"sales-and-service", "e-marketing"}
    assert purposes["e-marketing"]["double_opt_in"] is True
    assert purposes["sales-and-service"]["names"]["nb"] == "Salg og kundeservice"


def test_purposes_are_deactivated_never_deleted(admin: Callable[..., dict[str, Any]]) -> None:
    created = admin(
        "POST",
        "/v1/admin/purposes",
        json_body={"purpose_id": "member-newsletter", "names": {"en": "Member newsletter"}, "channels": ["email"]},
    )
    assert created["statusCode"] == 201, created["body"]
    assert (
        admin(
            "POST",
            "/v1/admin/purposes",
            json_body={"purpose_id": "member-newsletter", "names": {"en": "Again"}, "channels": ["email"]},
        )["statusCode"]
        == 409
    )

    deleted = admin("DELETE", "/v1/admin/purposes/member-newsletter")
    assert deleted["statusCode"] == 409
    assert body_of(deleted)["error"]["code"] == "purposes_are_never_deleted"

    deactivated = admin("PATCH", "/v1/admin/purposes/member-newsletter", json_body={"active": False})
    assert body_of(deactivated)["active"] is False
    assert admin("GET", "/v1/admin/purposes/nope")["statusCode"] == 404


def test_consent_texts_are_versioned_and_immutable(admin: Callable[..., dict[str, Any]]) -> None:
    new_text = {"purpose_id": "e-marketing", "locale": "da", "text": "Ny tekst, version 2."}
    added = admin("POST", "/v1/admin/consent-texts", json_body=new_text)
    assert added["statusCode"] == 201, added["body"]
    assert body_of(added)["version"] == 2

    versions = body_of(admin("GET", "/v1/admin/consent-texts", query={"purpose": "e-marketing", "locale": "da"}))
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["text"] != versions[1]["text"]
    assert admin("POST", "/v1/admin/consent-texts", json_body={**new_text, "purpose_id": "nope"})["statusCode"] == 404


def test_sources_and_legal_basis_labels_are_tenant_maintained(admin: Callable[..., dict[str, Any]]) -> None:
    assert (
        admin("POST", "/v1/admin/sources", json_body={"source_id": "trade-fair", "label": "Messe"})["statusCode"] == 201
    )
    assert "trade-fair" in {s["source_id"] for s in body_of(admin("GET", "/v1/admin/sources"))}

    relabelled = admin("PUT", "/v1/admin/legal-bases/consent", json_body={"label": "Samtykke"})
    assert relabelled["statusCode"] == 200
    labels = {b["code"]: b["label"] for b in body_of(admin("GET", "/v1/admin/legal-bases"))}
    assert labels["consent"] == "Samtykke"
    assert labels["withdrawn"] == "Withdrawn"
    assert len(labels) == 7
    assert admin("PUT", "/v1/admin/legal-bases/bribery", json_body={"label": "x"})["statusCode"] == 422


def test_settings_hold_the_privacy_policy_and_sub_processors(admin: Callable[..., dict[str, Any]]) -> None:
    update = {
        "privacy_policy_url": "https://acme.example/privacy",
        "sub_processors": [{"name": "Mailchimp", "agreement_date": "2020-06-01"}],
    }
    response = admin("PATCH", "/v1/admin/settings", json_body=update)
    assert response["statusCode"] == 200, response["body"]

    settings = body_of(admin("GET", "/v1/admin/settings"))
    assert settings["sub_processors"][0] == {"name": "Mailchimp", "purpose": "", "agreement_date": "2020-06-01"}
    assert "root_key_blob" not in settings
    assert admin("PATCH", "/v1/admin/settings", json_body={"country": "Denmark"})["statusCode"] == 422


def test_contact_search_by_email_and_phone(
    admin: Callable[..., dict[str, Any]], api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    body = {"email": "Per@Example.dk", "phone": "20 30 40 50", "purpose": ["sales-and-service"], "first_name": "Per"}
    assert invoke("consent_capture", api_event("consent_capture_json", json_body=body))["statusCode"] == 201

    by_email = body_of(admin("GET", "/v1/admin/contacts", query={"email": "per@example.dk"}))
    by_phone = body_of(admin("GET", "/v1/admin/contacts", query={"phone": "+4520304050"}))
    assert by_email == by_phone
    assert by_email["first_name"] == "Per"
    assert {(c["purpose"], c["channel"]) for c in by_email["consents"]} == {
        ("sales-and-service", "email"),
        ("sales-and-service", "phone"),
    }

    missing = admin("GET", "/v1/admin/contacts", query={"email": "nobody@example.dk"})
    assert missing["statusCode"] == 404
    assert body_of(missing)["error"]["code"] == "contact_not_found"
    both = admin("GET", "/v1/admin/contacts", query={"email": "a@example.dk", "phone": "20304050"})
    assert body_of(both)["error"]["code"] == "one_search_key_required"


def test_roles_without_the_permission_are_refused(admin: Callable[..., dict[str, Any]]) -> None:
    refused = admin("POST", "/v1/admin/sources", json_body={"source_id": "x", "label": "x"}, role=Role.VIEWER)
    assert refused["statusCode"] == 403
    assert body_of(refused)["error"]["code"] == "permission_denied"
    assert admin("GET", "/v1/admin/purposes", role=Role.VIEWER)["statusCode"] == 200


def test_a_request_without_an_authorizer_context_is_unauthorized(
    api_event: Callable[..., dict[str, Any]], invoke: Invoke, tenant: TenantFixture
) -> None:
    event = api_event("admin_request")
    event["requestContext"].pop("authorizer")
    response = invoke("admin_api", event)
    assert response["statusCode"] == 401


def test_the_authorizer_accepts_live_keys_only(invoke: Invoke, tenant: TenantFixture) -> None:
    from tests.conftest import load_event

    event = load_event("apigw/authorizer_request.json")
    event["headers"]["authorization"] = f"Bearer {tenant.api_key}"
    allowed = invoke("authorizer", event)
    assert allowed["isAuthorized"] is True
    assert allowed["context"]["tenant_id"] == tenant.tenant_id

    for bad in ("Bearer stk_forged", "Basic abc", ""):
        event["headers"]["authorization"] = bad
        assert invoke("authorizer", event)["isAuthorized"] is False
