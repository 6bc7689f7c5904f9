"""The issue's attacks on governance, each now refused with a 4xx and a clear code (and what replaced them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from samtykke.domain.access import Role
from samtykke.models.campaign import CampaignCreate
from samtykke.models.tenant import Plan
from samtykke.services import audit
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.staff_support import PASSWORD, StaffApi, body_of, code_of, make_staff_factory, use_cheap_scrypt

pytestmark = pytest.mark.integration

EXAMPLE: dict[str, Any] = CampaignCreate.model_config["json_schema_extra"]["example"]  # type: ignore[index]
JUSTIFICATION = "Statutory notice of changed terms of service, required by contract"
BLACK_FRIDAY = {
    **EXAMPLE,
    "name": "Black Friday -50%",
    "segment": None,
    "transactional": True,
    "justification": "Black Friday is important to us all",
    "unsubscribe_link": False,
}


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture
def staff(
    svc: Services, make_tenant: Callable[..., TenantFixture], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> dict[str, Any]:
    make_tenant("acme", plan=Plan.PLUS)
    api = StaffApi(api_event, invoke)
    make = make_staff_factory(svc)
    people: dict[str, Any] = {"api": api}
    for role in (Role.OWNER, Role.ADMIN, Role.EDITOR):
        user_id, email = make("acme", role)
        people[role.value] = api.token(email, PASSWORD)
        people[role.value + "_id"] = user_id
    return people


def test_a_marketing_purpose_never_sends_as_transactional(staff: dict[str, Any]) -> None:
    api: StaffApi = staff["api"]
    refused = api.admin("POST", "/v1/admin/campaigns", staff["editor"], json_body=BLACK_FRIDAY)
    assert (refused["statusCode"], code_of(refused)) == (422, "transactional_requires_service_purpose")
    assert "e-marketing" in body_of(refused)["error"]["message"]


def test_a_send_without_an_unsubscribe_link_needs_a_second_staff_member(svc: Services, staff: dict[str, Any]) -> None:
    api: StaffApi = staff["api"]
    notice = {
        **BLACK_FRIDAY,
        "name": "Terms change",
        "purpose": "sales-and-service",
        "justification": JUSTIFICATION,
        "content": {"en": {"subject": "Our terms change", "text": "Dear {first_name}, our terms change."}},
    }
    created = api.admin("POST", "/v1/admin/campaigns", staff["editor"], json_body=notice)
    assert created["statusCode"] == 201, created["body"]
    campaign_id = body_of(created)["campaign_id"]
    path = f"/v1/admin/campaigns/{campaign_id}"

    unapproved = api.admin("POST", f"{path}/send", staff["owner"])
    assert (unapproved["statusCode"], code_of(unapproved)) == (409, "approval_required")
    own = api.admin("POST", f"{path}/approve-unsubscribe-off", staff["editor"])
    assert (own["statusCode"], code_of(own)) == (403, "four_eyes_required")

    approved = api.admin("POST", f"{path}/approve-unsubscribe-off", staff["admin"])
    assert approved["statusCode"] == 200, approved["body"]
    assert body_of(approved)["unsubscribe_off_approved_by"] == staff["admin_id"]
    sent = api.admin("POST", f"{path}/send", staff["owner"])
    assert sent["statusCode"] == 202, sent["body"]

    entries, _ = audit.query(svc, "acme", target_id=campaign_id, limit=50)
    by_action = {e["action"]: e["actor"]["id"] for e in entries}
    assert by_action["campaign.transactional_created"] == staff["editor_id"]  # who asked
    assert by_action["campaign.unsubscribe_off_approved"] == staff["admin_id"]  # who approved
    assert by_action["campaign.sent"] == staff["owner_id"]


def test_a_marketing_purpose_keeps_consent_as_its_legal_basis(staff: dict[str, Any]) -> None:
    api: StaffApi = staff["api"]
    purpose = {"purpose_id": "offers", "names": {"en": "Offers"}, "channels": ["email"], "kind": "marketing"}
    for basis in ("legitimate_interests", "contract"):
        refused = api.admin(
            "POST", "/v1/admin/purposes", staff["owner"], json_body={**purpose, "default_legal_basis": basis}
        )
        assert (refused["statusCode"], code_of(refused)) == (422, "marketing_requires_consent")
    made = api.admin("POST", "/v1/admin/purposes", staff["owner"], json_body=purpose)
    assert made["statusCode"] == 201, made["body"]
    assert body_of(made)["kind"] == "marketing"
    assert body_of(made)["marketing"] is True
    change = {"default_legal_basis": "legitimate_interests"}
    refused = api.admin("PATCH", "/v1/admin/purposes/offers", staff["owner"], json_body=change)
    assert (refused["statusCode"], code_of(refused)) == (422, "marketing_requires_consent")
    service = {**purpose, "purpose_id": "orders", "kind": "service", "default_legal_basis": "contract"}
    assert api.admin("POST", "/v1/admin/purposes", staff["owner"], json_body=service)["statusCode"] == 201


def test_capture_records_a_service_purposes_default_basis_and_consent_for_marketing(
    staff: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    api: StaffApi = staff["api"]
    email = "berit.basis@example.dk"
    event = api_event(
        "consent_capture_json",
        json_body={"email": email, "purpose": ["sales-and-service", "e-marketing"]},
        path="/v1/public/acme/consents",
        path_parameters={"tenant_id": "acme"},
        headers={"origin": None},
    )
    assert invoke("consent_capture", event)["statusCode"] == 201
    log = body_of(api.admin("GET", "/v1/admin/consent-log", staff["owner"], query={"email": email}))
    bases = {e["purpose"]: e["legal_basis"] for e in log["events"]}
    assert bases == {"sales-and-service": "contract", "e-marketing": "consent"}


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop12"])
def test_a_common_password_is_refused(staff: dict[str, Any], password: str) -> None:
    api: StaffApi = staff["api"]
    new = {"email": "weak@acme.example", "role": "viewer", "password": password}
    refused = api.admin("POST", "/v1/admin/users", staff["owner"], json_body=new)
    assert (refused["statusCode"], code_of(refused)) == (422, "password_too_common")
    mine = {"email": "weak@acme.example", "role": "viewer", "password": "weak@acme.example and more"}
    refused = api.admin("POST", "/v1/admin/users", staff["owner"], json_body=mine)
    assert (refused["statusCode"], code_of(refused)) == (422, "password_contains_identity")


def test_requiring_mfa_ends_every_password_only_session_and_its_refresh_at_once(staff: dict[str, Any]) -> None:
    api: StaffApi = staff["api"]
    me = body_of(api.admin("GET", "/v1/admin/me", staff["editor"]))
    login = body_of(api.login(me["email"], PASSWORD))
    assert api.authorize(login["token"]) is not None
    turned_on = api.admin("PUT", "/v1/admin/settings/security", staff["owner"], json_body={"mfa_required": True})
    assert turned_on["statusCode"] == 200, turned_on["body"]

    assert api.authorize(login["token"]) is None  # the access token, at once
    assert api.authorize(staff["owner"]) is None  # the owner's own password-only session too
    refreshed = api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": login["refresh_token"]})
    assert (refreshed["statusCode"], code_of(refreshed)) == (401, "mfa_required")
    # A new login gets only the enrolment scope, which enrols a factor and nothing else
    again = body_of(api.login(me["email"], PASSWORD))
    assert again["scope"] == "mfa_enrolment"
    export = api.admin("GET", "/v1/admin/contacts/export", again["token"], query={"email": "x@example.dk"})
    assert (export["statusCode"], code_of(export)) == (403, "mfa_enrolment_required")


def test_only_the_operator_sets_the_plan_and_the_tenants_log_says_so(svc: Services, staff: dict[str, Any]) -> None:
    from samtykke.models.tenant import Plan
    from samtykke.services.audit import AuditActor
    from samtykke.services.staff import set_plan

    api: StaffApi = staff["api"]
    refused = api.admin("PUT", "/v1/admin/settings/plan", staff["owner"], json_body={"plan": "enterprise"})
    assert (refused["statusCode"], code_of(refused)) == (403, "operator_only")
    assert body_of(api.admin("GET", "/v1/admin/settings/security", staff["owner"]))["plan"] == "plus"

    assert set_plan(svc, AuditActor("acme", "operator", "ops@deployer"), Plan.ENTERPRISE)["plan"] == "enterprise"
    entry = audit.query(svc, "acme", action="operator.plan_set")[0][0]
    assert entry["actor"] == {"type": "operator", "id": "ops@deployer", "role": None}
    assert entry["details"] == {"from": "plus", "to": "enterprise"}


def test_a_national_id_that_is_not_one_is_refused_and_a_valid_one_stored_in_standard_form(
    staff: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    def capture(national_id: str) -> dict[str, Any]:
        event = api_event(
            "consent_capture_json",
            json_body={"email": "cpr.person@example.dk", "purpose": ["sales-and-service"], "national_id": national_id},
            path="/v1/public/acme/consents",
            path_parameters={"tenant_id": "acme"},
            headers={"origin": None},
        )
        return invoke("consent_capture", event)

    refused = capture("hello world <b>")
    assert (refused["statusCode"], code_of(refused)) == (422, "invalid_national_id")
    assert "CPR" in body_of(refused)["error"]["message"]
    stored = capture("2110625629")
    assert stored["statusCode"] == 201, stored["body"]
    found = staff["api"].admin("GET", "/v1/admin/contacts", staff["owner"], query={"email": "cpr.person@example.dk"})
    assert body_of(found)["national_id"] == "211062-5629"


def test_staff_record_a_withdrawal_a_basis_change_and_a_grant_for_a_person_with_a_note(
    svc: Services, staff: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    api: StaffApi = staff["api"]
    email = "telefon.kunde@example.dk"
    event = api_event(
        "consent_capture_json",
        json_body={"email": email, "purpose": ["sales-and-service"]},
        path="/v1/public/acme/consents",
        path_parameters={"tenant_id": "acme"},
        headers={"origin": None},
    )
    contact_id = body_of(invoke("consent_capture", event))["contact_id"]
    path = f"/v1/admin/contacts/{contact_id}/consents"
    note = "Rang on 2 December, asked us to stop; confirmed name and address"
    base = {"purpose": "sales-and-service", "channel": "email", "source": "phone", "note": note}

    no_note = api.admin("POST", path, staff["editor"], json_body={**base, "action": "withdraw", "note": ""})
    assert (no_note["statusCode"], code_of(no_note)) == (422, "validation_failed")
    marketing_on_interest = {**base, "purpose": "e-marketing", "action": "grant", "legal_basis": "legitimate_interests"}
    refused = api.admin("POST", path, staff["editor"], json_body=marketing_on_interest)
    assert (refused["statusCode"], code_of(refused)) == (422, "marketing_requires_consent")
    nothing = api.admin(
        "POST", path, staff["editor"], json_body={**base, "purpose": "e-marketing", "action": "withdraw"}
    )
    assert (nothing["statusCode"], code_of(nothing)) == (409, "no_consent_to_change")

    changed = api.admin(
        "POST",
        path,
        staff["editor"],
        json_body={**base, "action": "basis_change", "legal_basis": "legitimate_interests"},
    )
    assert changed["statusCode"] == 201, changed["body"]
    assert (body_of(changed)["status"], body_of(changed)["legal_basis"]) == ("granted", "legitimate_interests")
    withdrawn = api.admin("POST", path, staff["editor"], json_body={**base, "action": "withdraw", "source": "letter"})
    assert body_of(withdrawn)["status"] == "withdrawn"
    granted = api.admin(
        "POST",
        path,
        staff["editor"],
        json_body={**base, "purpose": "e-marketing", "action": "grant", "source": "in-person"},
    )
    assert (body_of(granted)["status"], body_of(granted)["legal_basis"]) == ("granted", "consent")

    log = body_of(api.admin("GET", "/v1/admin/consent-log", staff["owner"], query={"email": email}))["events"]
    by_staff = [e for e in log if e["actor"]["type"] == "staff"]
    assert sorted((e["type"], e["source"]) for e in by_staff) == [
        ("basis_change", "staff-phone"),
        ("grant", "staff-in-person"),
        ("withdraw", "staff-letter"),
    ]
    assert all(e["actor"]["id"] == staff["editor_id"] and e["evidence"]["note"] == note for e in by_staff)
    entries, _ = audit.query(svc, "acme", action="consent.changed_by_staff", contact_id=contact_id)
    assert len(entries) == 3
    assert all(e["actor"]["id"] == staff["editor_id"] for e in entries)
    _, viewer_email = make_staff_factory(svc)("acme", Role.VIEWER)
    viewer = api.token(viewer_email, PASSWORD)
    denied = api.admin("POST", path, viewer, json_body={**base, "action": "withdraw"})
    assert (denied["statusCode"], code_of(denied)) == (403, "permission_denied")


def test_the_do_not_contact_list_stops_even_a_transactional_send_and_never_shows_the_address(
    svc: Services, staff: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    api: StaffApi = staff["api"]
    email = "never.again@example.dk"
    event = api_event(
        "consent_capture_json",
        json_body={"email": email, "purpose": ["sales-and-service"]},
        path="/v1/public/acme/consents",
        path_parameters={"tenant_id": "acme"},
        headers={"origin": None},
    )
    assert invoke("consent_capture", event)["statusCode"] == 201
    notice = {
        **EXAMPLE,
        "segment": None,
        "purpose": "sales-and-service",
        "transactional": True,
        "justification": JUSTIFICATION,
        "content": {"en": {"subject": "Our terms change", "text": "Dear {first_name}, our terms change."}},
    }
    campaign_id = body_of(api.admin("POST", "/v1/admin/campaigns", staff["owner"], json_body=notice))["campaign_id"]

    def included() -> int:
        report = api.admin("POST", f"/v1/admin/campaigns/{campaign_id}/dry-run", staff["owner"])
        return int(body_of(report)["included"])

    assert included() == 1
    added = api.admin("POST", "/v1/admin/do-not-contact", staff["editor"], json_body={"email": email, "note": "Letter"})
    assert added["statusCode"] == 201, added["body"]
    assert included() == 0
    listed = api.admin("GET", "/v1/admin/do-not-contact", staff["owner"])
    assert [e["hash"] for e in body_of(listed)] == [body_of(added)["hash"]]
    assert email not in listed["body"]
    both = api.admin(
        "POST",
        "/v1/admin/do-not-contact",
        staff["editor"],
        json_body={"email": email, "phone": "+4520304050", "note": "x" * 5},
    )
    assert (both["statusCode"], code_of(both)) == (422, "one_address_required")

    removed = api.admin("DELETE", "/v1/admin/do-not-contact", staff["editor"], query={"email": email})
    assert removed["statusCode"] == 200, removed["body"]
    assert included() == 1
    again = api.admin("DELETE", "/v1/admin/do-not-contact", staff["editor"], query={"email": email})
    assert (again["statusCode"], code_of(again)) == (404, "not_on_do_not_contact_list")
    actions = [e["action"] for e in audit.query(svc, "acme", actor_id=staff["editor_id"])[0]]
    assert {"do_not_contact.added", "do_not_contact.removed"} <= set(actions)
