"""The audit log as a DPO reads it: before/after values, no secrets, filters, pages, the chain and its export."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from samtykke.adapters import aws as aws_clients
from samtykke.domain.access import Role
from samtykke.domain.audit.chain import first_broken_entry, parse_jsonl, verify_month
from samtykke.models.tenant import Plan
from samtykke.services import audit
from samtykke.services.audit.export import export_yesterday
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.staff_support import PASSWORD, StaffApi, body_of, make_staff_factory, use_cheap_scrypt

pytestmark = pytest.mark.integration

EMAIL = "karen.kunde@example.dk"


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture
def owner(
    svc: Services, make_tenant: Callable[..., TenantFixture], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> tuple[StaffApi, str, str]:
    make_tenant("acme", plan=Plan.PLUS)
    staff = StaffApi(api_event, invoke)
    user_id, email = make_staff_factory(svc)("acme", Role.OWNER)
    return staff, staff.token(email, PASSWORD), user_id


def _month(svc: Services) -> str:
    return svc.clock().strftime("%Y-%m")


def _capture(invoke: Any, api_event: Callable[..., dict[str, Any]], email: str) -> str:
    event = api_event(
        "consent_capture_json",
        json_body={"email": email, "purpose": ["sales-and-service"]},
        path="/v1/public/acme/consents",
        path_parameters={"tenant_id": "acme"},
        headers={"origin": None},
    )
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 201, response["body"]
    return str(body_of(response)["contact_id"])


def test_a_settings_change_keeps_before_and_after_and_an_sms_secret_only_that_it_changed(
    svc: Services, owner: tuple[StaffApi, str, str]
) -> None:
    staff, token, _ = owner
    changed = staff.admin("PATCH", "/v1/admin/settings", token, json_body={"country": "SE"})
    assert changed["statusCode"] == 200, changed["body"]
    secret = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6"
    twilio = {"auth_token": secret}
    assert staff.admin("PUT", "/v1/admin/settings/sms/twilio", token, json_body=twilio)["statusCode"] == 200
    entries = body_of(staff.admin("GET", "/v1/admin/audit", token))["entries"]
    settings = next(e for e in entries if e["action"] == "settings.updated")
    assert {"field": "country", "before": "DK", "after": "SE", "secret": False, "sealed": False} in settings["changes"]
    assert settings["route"] == "PATCH /v1/admin/settings"
    assert settings["target"] is None
    assert settings["ip"] == "203.0.113.7"
    sms = next(e for e in entries if e["route"] == "PUT /v1/admin/settings/sms/twilio")
    assert secret not in json.dumps(entries)
    assert sms["details"]["request"] == {}


def test_reads_name_the_contact_and_the_log_filters_by_contact_actor_action_and_time(
    svc: Services, owner: tuple[StaffApi, str, str], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    staff, token, owner_id = owner
    karen = _capture(invoke, api_event, EMAIL)
    other = _capture(invoke, api_event, "ole.other@example.dk")
    for path in ("/v1/admin/contacts", "/v1/admin/consent-log", "/v1/admin/contacts/export"):
        assert staff.admin("GET", path, token, query={"email": EMAIL})["statusCode"] == 200
    assert staff.admin("GET", f"/v1/admin/contacts/{other}", token)["statusCode"] == 200

    about_karen = body_of(staff.admin("GET", "/v1/admin/audit", token, query={"contact_id": karen}))["entries"]
    assert len(about_karen) == 3
    assert all(karen in e["contacts"] and e["actor"]["id"] == owner_id for e in about_karen)
    assert EMAIL not in json.dumps(about_karen)  # the lookup's email is not kept
    reads = body_of(staff.admin("GET", "/v1/admin/audit", token, query={"action": "contact.read"}))["entries"]
    assert {tuple(e["contacts"]) for e in reads} == {(karen,), (other,)}
    by_actor = body_of(staff.admin("GET", "/v1/admin/audit", token, query={"actor_id": owner_id}))["entries"]
    assert len(by_actor) >= 4

    now = svc.clock()
    future = {"since": (now + timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")}
    assert body_of(staff.admin("GET", "/v1/admin/audit", token, query=future))["entries"] == []
    window = {"since": (now - timedelta(hours=1)).isoformat(timespec="seconds"), "contact_id": karen}
    assert len(body_of(staff.admin("GET", "/v1/admin/audit", token, query=window))["entries"]) == 3


def test_pages_follow_the_cursor_without_gaps_or_repeats_across_months(
    svc: Services, owner: tuple[StaffApi, str, str]
) -> None:
    staff, token, _ = owner
    start = datetime(2026, 10, 31, 23, 59, tzinfo=UTC)
    principal_owner = audit.AuditActor("acme", "system", "test")
    for minute in range(7):  # entries either side of a month boundary
        svc.clock = lambda m=minute: start + timedelta(minutes=m)
        audit.record(svc, principal_owner, "test.tick", details={"n": minute})
    svc.clock = lambda: datetime(2026, 11, 2, tzinfo=UTC)
    query = {"since": "2026-10-01T00:00:00Z", "until": "2026-11-30T00:00:00Z", "action": "test.tick", "limit": "3"}
    seen: list[int] = []
    while True:
        page = body_of(staff.admin("GET", "/v1/admin/audit", token, query=query))
        seen += [e["details"]["n"] for e in page["entries"]]
        if not page["next_cursor"]:
            break
        query["cursor"] = page["next_cursor"]
    assert seen == [6, 5, 4, 3, 2, 1, 0]
    bad = staff.admin("GET", "/v1/admin/audit", token, query={"cursor": "bm90LWpzb24"})
    assert (bad["statusCode"], body_of(bad)["error"]["code"]) == (400, "invalid_cursor")


def test_the_months_chain_verifies_from_the_export_and_a_tampered_entry_is_found(
    svc: Services, owner: tuple[StaffApi, str, str]
) -> None:
    staff, token, _ = owner
    for country in ("SE", "NO", "FI"):
        staff.admin("PATCH", "/v1/admin/settings", token, json_body={"country": country})
    exported = staff.admin("POST", "/v1/admin/audit/exports", token, json_body={"month": _month(svc)})
    assert exported["statusCode"] == 201, exported["body"]
    result = body_of(exported)
    s3 = aws_clients.s3()
    obj = s3.get_object(Bucket=svc.settings.evidence_bucket, Key=result["key"])
    text = obj["Body"].read().decode()
    records = parse_jsonl(text)
    assert len(records) == result["entries"] >= 4  # the login and the three changes
    assert verify_month(text) is None
    assert records[-1]["hash"] == result["last_hash"]
    assert obj["ObjectLockMode"] == "COMPLIANCE"
    # Someone with table access edits an entry's changes: the chain breaks there
    tampered = [dict(r) for r in records]
    tampered[2]["changes"] = []
    assert first_broken_entry(tampered) == records[2]["seq"]
    # ... and the API's own entries carry the same hashes
    listed = body_of(staff.admin("GET", "/v1/admin/audit", token, query={"limit": "200"}))["entries"]
    assert {e["hash"] for e in listed} >= {r["hash"] for r in records}


def test_the_daily_export_writes_yesterdays_entries_per_tenant(svc: Services, owner: tuple[StaffApi, str, str]) -> None:
    staff, token, _ = owner
    staff.admin("PATCH", "/v1/admin/settings", token, json_body={"country": "SE"})
    today = svc.clock()
    svc.clock = lambda: today + timedelta(days=1)
    files = export_yesterday(svc)
    assert [(f.tenant_id, f.key) for f in files] == [("acme", f"audit/acme/{_month_of(today)}/{today.date()}.jsonl")]
    body = aws_clients.s3().get_object(Bucket=svc.settings.evidence_bucket, Key=files[0].key)["Body"].read().decode()
    records = parse_jsonl(body)
    assert len(records) == files[0].entries >= 2
    if records[0]["seq"] == 1:
        assert verify_month(body) is None


def _month_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")
