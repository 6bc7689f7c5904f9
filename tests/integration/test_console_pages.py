"""The console's handler on moto: the cookie session refreshes and rotates, a reused refresh token ends it, and an
author's pages never show an address."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from samtykke.domain.access import Role
from samtykke.models.staff import LoginRequest, SessionTokens, UserCreate
from samtykke.services import sessions, staff
from samtykke.services.context import Services
from samtykke.services.session_auth import authenticate_session
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


# --- recording a decision on the person's behalf -------------------------------------------------------------


def _person_page(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke, role: Role
) -> tuple[str, list[str], dict[str, Any]]:
    """A captured person (anna@example.dk), a logged-in `role`, and that role's view of the person's page."""
    cookies = [f"samtykke_console={log_in(svc, tenant, role).token}"]
    found = invoke("console", page(api_event, "/people", cookies) | {"queryStringParameters": {"q": "anna@example.dk"}})
    assert found["statusCode"] == 303, found["body"]
    contact_id = found["headers"]["Location"].rsplit("/", 1)[-1]
    shown = invoke("console", page(api_event, f"/people/{contact_id}", cookies))
    assert shown["statusCode"] == 200, shown["body"]
    return contact_id, cookies, shown


def _csrf(body: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', body)
    assert found is not None
    return found.group(1)


def _post(
    api_event: Callable[..., dict[str, Any]], path: str, cookies: list[str], fields: dict[str, str], locale: str = "en"
) -> dict[str, Any]:
    event = page(api_event, path, cookies)
    event["requestContext"]["http"]["method"] = "POST"
    event["headers"] |= {"content-type": "application/x-www-form-urlencoded", "accept-language": locale}
    event["body"] = urlencode(fields)
    return event


WITHDRAWAL = {
    "action": "withdraw",
    "consent": "sales-and-service:email",
    "source": "phone",
    "note": "Rang on 2 December and asked for no more service emails",
}


@pytest.mark.parametrize("role", [Role.EDITOR, Role.OWNER])
def test_staff_with_the_right_record_a_withdrawal_on_the_persons_behalf(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke, role: Role
) -> None:
    from samtykke.services import audit, contacts

    assert invoke("consent_capture", api_event("consent_capture_form"))["statusCode"] == 303
    contact_id, cookies, shown = _person_page(svc, tenant, api_event, invoke, role)
    assert 'id="record-form"' in shown["body"]
    assert 'value="sales-and-service:email"' in shown["body"]

    # When the form is posted with the session's CSRF token
    fields = WITHDRAWAL | {"csrf": _csrf(shown["body"])}
    posted = invoke("console", _post(api_event, f"/people/{contact_id}/consents", cookies, fields))

    # Then the withdrawal is in the consent log, by this staff member, with the note and the source
    assert posted["statusCode"] == 303, posted["body"]
    assert posted["headers"]["Location"].startswith(f"/console/people/{contact_id}?recorded=evt_")
    last = contacts.consent_log(svc, tenant.tenant_id, contact_id).events[-1]
    me = authenticate_session(svc, cookies[0].split("=", 1)[1])
    assert (last.type, last.purpose, last.channel) == ("withdraw", "sales-and-service", "email")
    assert last.status == "withdrawn"
    assert last.actor.type == "staff"
    assert last.actor.id == me.principal_id
    assert last.source == "staff-phone"
    assert last.evidence is not None
    assert last.evidence.note == WITHDRAWAL["note"]
    entries, _ = audit.query(svc, tenant.tenant_id, svc.clock().strftime("%Y-%m"), target_id=contact_id)
    changed = [e for e in entries if e["action"] == "consent.changed_by_staff"]
    assert [e["details"]["source"] for e in changed] == ["phone"]

    # And the person's page shows it at the top of the timeline
    location = posted["headers"]["Location"][len("/console") :]
    path, _, query = location.partition("?")
    after = invoke("console", page(api_event, path, cookies) | {"queryStringParameters": dict([query.split("=")])})
    assert "Recorded: the new event is at the top of the timeline." in after["body"]
    newest = after["body"].split('id="timeline-h"', 1)[1].split("<li>", 2)[1]
    assert "Withdrawn</strong> sales-and-service / email" in newest
    assert "Staff, by phone" in newest
    assert WITHDRAWAL["note"] in newest


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AUTHOR])
def test_a_role_without_the_right_sees_no_record_form_and_its_post_is_refused(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke, role: Role
) -> None:
    from samtykke.services import contacts

    assert invoke("consent_capture", api_event("consent_capture_form"))["statusCode"] == 303
    contact_id, cookies, shown = _person_page(svc, tenant, api_event, invoke, role)
    assert 'id="record-form"' not in shown["body"]
    before = len(contacts.consent_log(svc, tenant.tenant_id, contact_id).events)

    fields = WITHDRAWAL | {"csrf": _csrf(shown["body"])}
    refused = invoke("console", _post(api_event, f"/people/{contact_id}/consents", cookies, fields))

    assert refused["statusCode"] == 403
    assert refused["headers"]["X-Samtykke-Error"] == "permission_denied"
    assert len(contacts.consent_log(svc, tenant.tenant_id, contact_id).events) == before


def test_a_record_post_without_the_csrf_token_changes_nothing(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    from samtykke.services import contacts

    assert invoke("consent_capture", api_event("consent_capture_form"))["statusCode"] == 303
    contact_id, cookies, _ = _person_page(svc, tenant, api_event, invoke, Role.EDITOR)
    before = len(contacts.consent_log(svc, tenant.tenant_id, contact_id).events)

    for fields in (WITHDRAWAL, WITHDRAWAL | {"csrf": "forged"}):
        refused = invoke("console", _post(api_event, f"/people/{contact_id}/consents", cookies, fields))
        assert refused["statusCode"] == 403
        assert refused["headers"]["X-Samtykke-Error"] == "csrf_failed"
    assert len(contacts.consent_log(svc, tenant.tenant_id, contact_id).events) == before


def test_a_record_without_a_note_says_so_in_the_readers_language_and_records_nothing(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    from samtykke.console.messages import console_messages
    from samtykke.services import contacts

    assert invoke("consent_capture", api_event("consent_capture_form"))["statusCode"] == 303
    contact_id, cookies, shown = _person_page(svc, tenant, api_event, invoke, Role.EDITOR)
    before = len(contacts.consent_log(svc, tenant.tenant_id, contact_id).events)

    fields = WITHDRAWAL | {"note": "  ", "csrf": _csrf(shown["body"])}
    refused = invoke("console", _post(api_event, f"/people/{contact_id}/consents", cookies, fields, locale="da"))

    assert refused["statusCode"] == 422
    assert refused["headers"]["X-Samtykke-Error"] == "note_required"
    body = refused["body"]
    assert html.escape(console_messages("da")["record_error_note_required"], quote=False) in body
    assert '<details class="record" open>' in body  # the form stays open, its choices kept
    assert 'value="phone" selected' in body
    assert len(contacts.consent_log(svc, tenant.tenant_id, contact_id).events) == before


def test_a_refusal_of_the_service_shows_as_a_localized_error_on_the_form(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    from samtykke.console.messages import console_messages

    assert invoke("consent_capture", api_event("consent_capture_form"))["statusCode"] == 303
    contact_id, cookies, shown = _person_page(svc, tenant, api_event, invoke, Role.EDITOR)

    # A marketing purpose on another basis than consent: the service's own rule, not one the console repeats
    fields = WITHDRAWAL | {
        "action": "basis_change",
        "consent": "e-marketing:email",
        "legal_basis": "legitimate_interests",
        "csrf": _csrf(shown["body"]),
    }
    refused = invoke("console", _post(api_event, f"/people/{contact_id}/consents", cookies, fields, locale="de"))

    assert refused["statusCode"] == 422
    assert refused["headers"]["X-Samtykke-Error"] == "marketing_requires_consent"
    assert console_messages("de")["record_error_marketing_requires_consent"] in refused["body"]
