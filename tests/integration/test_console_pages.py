"""The console's handler on moto: the cookie session refreshes and rotates, a reused refresh token ends it, and an
author's pages never show an address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from samtykke.domain.access import Role
from samtykke.models.staff import LoginRequest, SessionTokens, UserCreate
from samtykke.services import sessions, staff
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
PASSWORD = "a console integration passphrase"


def log_in(svc: Services, tenant: TenantFixture, role: Role) -> SessionTokens:
    email = f"{role.value}@acme.example"
    new = UserCreate(email=email, role=role, password=PASSWORD)
    staff.create_user(svc, tenant.tenant_id, new, actor=None, ip=None, public_base_url="https://acme.example")
    return sessions.login(svc, LoginRequest(email=email, password=PASSWORD, tenant_id=tenant.tenant_id), ip=None)


def page(api_event: Callable[..., dict[str, Any]], path: str, cookies: list[str]) -> dict[str, Any]:
    event = api_event("console_page", path=f"/console{path}", path_parameters={"proxy": path.lstrip("/")})
    event["cookies"] = cookies
    return event


def cookie_values(response: dict[str, Any]) -> dict[str, str]:
    return {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in response.get("cookies") or []}


def test_an_expired_access_cookie_is_refreshed_and_a_reused_refresh_token_ends_the_session(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    tokens = log_in(svc, tenant, Role.EDITOR)
    assert tokens.refresh_token is not None
    # Given only the refresh cookie (the access token has expired and the browser dropped it)
    first = invoke("console", page(api_event, "/dashboard", [f"samtykke_console_refresh={tokens.refresh_token}"]))

    # Then the page renders, and both cookies are set again, the refresh token rotated
    assert first["statusCode"] == 200, first["body"]
    issued = cookie_values(first)
    assert issued["samtykke_console"].startswith("sts_")
    assert issued["samtykke_console_refresh"] != tokens.refresh_token
    assert all("HttpOnly" in c and "SameSite=Strict" in c and "Secure" in c for c in first["cookies"])
    assert "default-src 'none'" in first["headers"]["Content-Security-Policy"]

    # When the old refresh token comes back (a stolen copy), the login ends and the browser goes to the login page
    replay = invoke("console", page(api_event, "/dashboard", [f"samtykke_console_refresh={tokens.refresh_token}"]))
    assert replay["statusCode"] == 303
    assert replay["headers"]["Location"] == "/console/login?next=/dashboard"
    fresh = invoke("console", page(api_event, "/dashboard", [f"samtykke_console={issued['samtykke_console']}"]))
    assert fresh["statusCode"] == 303  # every session of the user ended with the reuse


def test_an_author_sees_masked_addresses_and_no_evidence(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    assert invoke("consent_capture", api_event("consent_capture_form"))["statusCode"] == 303
    tokens = log_in(svc, tenant, Role.AUTHOR)
    cookies = [f"samtykke_console={tokens.token}"]
    found = invoke("console", page(api_event, "/people", cookies) | {"queryStringParameters": {"q": "anna@example.dk"}})
    assert found["statusCode"] == 303, found["body"]
    person = invoke("console", page(api_event, found["headers"]["Location"][len("/console") :], cookies))
    assert person["statusCode"] == 200, person["body"]
    assert "anna@example.dk" not in person["body"]
    assert "a***@example.dk" in person["body"]
    assert "203.0.113.7" not in person["body"]  # the evidence IP is withheld
    assert "Withheld for your role" in person["body"]


def test_an_unknown_page_is_an_html_404_and_a_page_without_a_login_redirects(
    api_event: Callable[..., dict[str, Any]], invoke: Invoke, tenant: TenantFixture
) -> None:
    missing = invoke("console", page(api_event, "/static/../../settings.py", []))
    assert missing["statusCode"] == 404
    anonymous = invoke("console", page(api_event, "/audit", []))
    assert (anonymous["statusCode"], anonymous["headers"]["Location"]) == (303, "/console/login?next=/audit")


def test_the_export_downloads_as_json_and_is_audited(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    from samtykke.services import audit

    captured = invoke("consent_capture", api_event("consent_capture_form"))
    assert captured["statusCode"] == 303
    tokens = log_in(svc, tenant, Role.EDITOR)
    cookies = [f"samtykke_console={tokens.token}"]
    found = invoke("console", page(api_event, "/people", cookies) | {"queryStringParameters": {"q": "anna@example.dk"}})
    contact_id = found["headers"]["Location"].rsplit("/", 1)[-1]
    event = page(api_event, f"/people/{contact_id}/export", cookies) | {"queryStringParameters": {"format": "json"}}
    exported = invoke("console", event)
    assert exported["statusCode"] == 200, exported["body"]
    assert exported["headers"]["Content-Type"] == "application/json"
    assert exported["headers"]["Content-Disposition"] == f'attachment; filename="{contact_id}.json"'
    assert '"export_version":1' in exported["body"]
    entries, _ = audit.query(svc, tenant.tenant_id, svc.clock().strftime("%Y-%m"), target_id=contact_id)
    assert "contact.exported" in [e["action"] for e in entries]
