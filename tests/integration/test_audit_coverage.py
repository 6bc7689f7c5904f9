"""Every admin route of /openapi.json leaves the right audit entry: one table, one row per route.

ADDING A ROUTE? Add its row to `ROUTES` below: the action its successful call must record (`api/audited.py`
records writes for you: `domain.audit.route_action(method, path)` unless `guarded(..., audit="...")` names one),
whether the entry must name the contact, and how to call it when the schema's example is not enough. A read that
shows no contact's data records nothing: its row says `NOTHING`.

The walk calls every route as the tenant's owner (a staff session), in the table's order, and checks the entries
that appeared: the action, the route, the actor, the sealed IP, and the contact where one is named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import pytest

from samtykke.api.openapi import openapi_document
from samtykke.domain.access import Role
from samtykke.models.tenant import Plan
from samtykke.services import audit
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.staff_support import PASSWORD, StaffApi, body_of, make_staff_factory, use_cheap_scrypt

pytestmark = pytest.mark.integration

NOTHING = "(nothing: the route shows no contact's data and changes nothing)"
EXAMPLE = object()  # the request schema's example
CONTACT_EMAIL = "dorte.dpo@example.dk"
IP = "203.0.113.99"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
UPLOAD = {"content_type": "image/png", "size_bytes": "1000", "sha256": SHA256}


@dataclass(frozen=True)
class Row:
    action: str
    names_contact: bool = False
    body: Any = EXAMPLE  # or a callable(world) -> body
    query: dict[str, str] | Callable[[dict[str, Any]], dict[str, str]] | None = None
    status: int | None = None  # when the route answers other than 2xx on purpose (a dry run of a 0-recipient send)


ROUTES: dict[tuple[str, str], Row] = {
    # --- catalogue and settings -------------------------------------------------------------------------------
    ("GET", "/v1/admin/purposes"): Row(NOTHING),
    ("POST", "/v1/admin/purposes"): Row("purposes.create"),
    ("GET", "/v1/admin/purposes/{purpose_id}"): Row(NOTHING),
    ("PATCH", "/v1/admin/purposes/{purpose_id}"): Row("purposes.update"),
    ("GET", "/v1/admin/sources"): Row(NOTHING),
    ("POST", "/v1/admin/sources"): Row("sources.create"),
    ("PATCH", "/v1/admin/sources/{source_id}"): Row("sources.update"),
    ("GET", "/v1/admin/legal-bases"): Row(NOTHING),
    ("PUT", "/v1/admin/legal-bases/{code}"): Row("legal-bases.set"),
    ("GET", "/v1/admin/consent-texts"): Row(NOTHING),
    ("POST", "/v1/admin/consent-texts"): Row("consent-texts.create"),
    ("GET", "/v1/admin/settings"): Row(NOTHING),
    ("PATCH", "/v1/admin/settings"): Row("settings.updated"),
    ("GET", "/v1/admin/settings/link-key"): Row(NOTHING),
    ("POST", "/v1/admin/settings/link-key/rotate"): Row("link_key.rotated"),
    ("GET", "/v1/admin/settings/security"): Row(NOTHING),
    ("PUT", "/v1/admin/settings/security"): Row("settings.mfa_policy_changed", body={"mfa_required": False}),
    ("PUT", "/v1/admin/settings/plan"): Row(NOTHING, body={"plan": "enterprise"}, status=403),  # the operator's
    # --- SMS --------------------------------------------------------------------------------------------------
    ("GET", "/v1/admin/settings/sms"): Row(NOTHING),
    ("PUT", "/v1/admin/settings/sms/twilio"): Row("settings.sms.twilio.set"),
    ("PUT", "/v1/admin/settings/sms/vonage"): Row("settings.sms.vonage.set"),
    ("GET", "/v1/admin/sms/keywords"): Row(NOTHING),
    ("POST", "/v1/admin/sms/keywords"): Row("sms.keywords.create"),
    ("GET", "/v1/admin/sms/numbers"): Row(NOTHING),
    ("POST", "/v1/admin/sms/numbers"): Row("sms.numbers.create"),
    ("GET", "/v1/admin/sms/status"): Row("contact.read", query={"phone": "+4520304050"}),
    # --- contacts and their data -------------------------------------------------------------------------------
    ("GET", "/v1/admin/contacts"): Row("contact.read", names_contact=True, query={"email": CONTACT_EMAIL}),
    ("GET", "/v1/admin/contacts/{contact_id}"): Row("contact.read", names_contact=True),
    # The settings' example declares `loyalty_no`, which the route's example sets.
    ("PATCH", "/v1/admin/contacts/{contact_id}/custom-fields"): Row("contact.fields_changed", names_contact=True),
    ("GET", "/v1/admin/consent-log"): Row("contact.read", names_contact=True, query={"email": CONTACT_EMAIL}),
    ("GET", "/v1/admin/contacts/export"): Row("contact.exported", names_contact=True, query={"email": CONTACT_EMAIL}),
    ("GET", "/v1/admin/contacts/{contact_id}/export"): Row("contact.exported", names_contact=True),
    ("GET", "/v1/admin/contacts/{contact_id}/consent-form"): Row("contact.exported", names_contact=True),
    ("GET", "/v1/admin/contacts/{contact_id}/evidence"): Row("contact.read", names_contact=True),
    ("POST", "/v1/admin/contacts/{contact_id}/events/{event_id}/evidence"): Row(
        "contacts.events.evidence", names_contact=True, query=UPLOAD
    ),
    ("POST", "/v1/admin/contacts/{contact_id}/consents"): Row(
        "consent.changed_by_staff",
        names_contact=True,
        body={
            "action": "basis_change",
            "purpose": "sales-and-service",
            "channel": "email",
            "source": "letter",
            "note": "Letter of 1 December: the contract covers this",
            "legal_basis": "contract",
        },
    ),
    ("POST", "/v1/admin/contacts/{contact_id}/links"): Row(
        "contacts.links", names_contact=True, query={"purpose": "sales-and-service"}
    ),
    ("POST", "/v1/admin/messages/test"): Row(
        "messages.test.create", body={"email": CONTACT_EMAIL, "purpose": "sales-and-service"}
    ),
    ("POST", "/v1/admin/do-not-contact"): Row(
        "do_not_contact.added", body={"email": "stop.it@example.dk", "note": "Asked on the phone"}
    ),
    ("GET", "/v1/admin/do-not-contact"): Row(NOTHING),  # hashes only
    ("GET", "/v1/admin/suppressions"): Row("contact.read", names_contact=True, query=lambda w: _bounced(w)),
    ("POST", "/v1/admin/suppressions/lookup"): Row("contact.read", names_contact=True, body={"email": CONTACT_EMAIL}),
    ("POST", "/v1/admin/suppressions/lift"): Row(
        "suppression.lifted",
        names_contact=True,
        body={"email": CONTACT_EMAIL, "channel": "email", "note": "The mailbox works again, the customer says"},
    ),
    ("DELETE", "/v1/admin/do-not-contact"): Row("do_not_contact.removed", query={"email": "stop.it@example.dk"}),
    # --- imports and campaigns --------------------------------------------------------------------------------
    ("GET", "/v1/admin/imports"): Row(NOTHING),
    # The anchored-log check (docs/evidence.md): chain verdicts by pseudonymous contact id, no contact's data.
    ("GET", "/v1/admin/evidence/audit"): Row(NOTHING),
    ("POST", "/v1/admin/imports"): Row("imports.create"),
    ("GET", "/v1/admin/imports/{import_id}"): Row(NOTHING),
    ("GET", "/v1/admin/imports/{import_id}/issues"): Row(NOTHING),
    ("POST", "/v1/admin/imports/{import_id}/evidence"): Row("imports.evidence", query=UPLOAD),
    ("POST", "/v1/admin/imports/{import_id}/start"): Row(NOTHING, status=409),  # refused: the CSV is not uploaded
    ("GET", "/v1/admin/campaigns"): Row(NOTHING),
    ("POST", "/v1/admin/campaigns"): Row("campaigns.create"),
    ("GET", "/v1/admin/campaigns/{campaign_id}"): Row(NOTHING),
    ("POST", "/v1/admin/campaigns/{campaign_id}/dry-run"): Row(NOTHING),  # campaigns:read: counts, changes nothing
    ("POST", "/v1/admin/campaigns/{campaign_id}/approve-unsubscribe-off"): Row(NOTHING, status=409),  # it keeps it
    ("POST", "/v1/admin/campaigns/{campaign_id}/send"): Row("campaign.sent"),
    ("POST", "/v1/admin/campaigns/{campaign_id}/reconcile"): Row("campaigns.reconcile"),
    # --- webhooks and the change feed ----------------------------------------------------------------------------
    ("POST", "/v1/admin/webhooks"): Row("webhook.created"),
    ("GET", "/v1/admin/webhooks"): Row(NOTHING),
    ("GET", "/v1/admin/webhooks/{subscription_id}"): Row(NOTHING),
    ("PATCH", "/v1/admin/webhooks/{subscription_id}"): Row("webhook.updated"),
    ("POST", "/v1/admin/webhooks/{subscription_id}/{action}"): Row("webhook.paused"),
    ("GET", "/v1/admin/webhooks/{subscription_id}/deliveries"): Row(NOTHING),
    ("POST", "/v1/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/replay"): Row(
        NOTHING,
        status=404,  # no delivery to replay in this walk: refused, nothing changed
    ),
    ("DELETE", "/v1/admin/webhooks/{subscription_id}"): Row("webhook.deleted"),
    ("GET", "/v1/admin/changes"): Row(NOTHING),  # empty here: the feed's contacts are audited like any read
    # --- staff, keys, the audit log ----------------------------------------------------------------------------
    ("GET", "/v1/admin/me"): Row(NOTHING),
    ("POST", "/v1/admin/me/mfa"): Row("mfa.enrolment_started"),
    ("POST", "/v1/admin/me/mfa/verify"): Row("mfa.enrolled", body=lambda w: {"code": w["totp"]()}),
    ("POST", "/v1/admin/me/mfa/disable"): Row("mfa.disabled", body=lambda w: {"code": w["totp"]()}),
    ("GET", "/v1/admin/users"): Row(NOTHING),
    ("POST", "/v1/admin/users"): Row("user.created"),
    ("GET", "/v1/admin/users/{user_id}"): Row(NOTHING),
    ("PATCH", "/v1/admin/users/{user_id}"): Row("user.role_changed", body={"role": "viewer"}),
    ("POST", "/v1/admin/users/{user_id}/mfa/reset"): Row("mfa.reset"),
    ("GET", "/v1/admin/api-keys"): Row(NOTHING),
    ("POST", "/v1/admin/api-keys"): Row("api_key.created"),
    ("DELETE", "/v1/admin/api-keys/{key_id}"): Row("api_key.revoked"),
    ("GET", "/v1/admin/audit"): Row(NOTHING),
    ("POST", "/v1/admin/audit/exports"): Row("audit.exported", body=lambda w: {"month": f"{w['svc'].clock():%Y-%m}"}),
    # --- removals last ----------------------------------------------------------------------------------------
    ("DELETE", "/v1/admin/sms/keywords/{keyword_id}"): Row("sms.keywords.delete"),
    ("DELETE", "/v1/admin/sms/numbers/{number}"): Row("sms.numbers.delete"),
    ("DELETE", "/v1/admin/settings/sms/{provider}"): Row("settings.sms.delete"),
    ("DELETE", "/v1/admin/purposes/{purpose_id}"): Row(NOTHING, status=409),  # refused: purposes are deactivated
    ("POST", "/v1/admin/contacts/{contact_id}/erase"): Row("contact.erased", names_contact=True),
    ("POST", "/v1/admin/me/password"): Row(  # ends every session: last
        "auth.password_changed", body={"current_password": PASSWORD, "new_password": "another long passphrase"}
    ),
}


def _bounced(world: dict[str, Any]) -> dict[str, str]:
    """The contact's address hard-bounces (as SES feedback records it), for the suppression routes after it to list,
    look up and lift; the list's query asks for hard bounces."""
    svc: Services = world["svc"]
    keys = svc.keyring.tenant_keys("acme", svc.catalogs.get("acme").root_key_blob)
    record = {"reason": "hard_bounce", "at": svc.clock().isoformat(), "source": "ses"}
    svc.repo.set_address_suppression("acme", "email", keys.blind_index("email", CONTACT_EMAIL), "email#*", record)
    return {"reason": "hard_bounce"}


def admin_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in openapi_document()["paths"].items()
        if path.startswith("/v1/admin/")
        for method, operation in operations.items()
    ]


def example_body(operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return openapi_document()["components"]["schemas"][ref].get("example", {})


def test_every_admin_route_in_openapi_has_a_row_in_the_audit_table() -> None:
    documented = {(method, path) for method, path, _ in admin_operations()}
    missing = sorted(documented - set(ROUTES))
    assert not missing, (
        "These admin routes have no row in tests/integration/test_audit_coverage.py ROUTES, so nobody checks "
        "that they are audited; add one each (the action the route records, or NOTHING):\n  "
        + "\n  ".join(f"{m} {p}" for m, p in missing)
    )
    stale = sorted(set(ROUTES) - documented)
    assert not stale, f"ROUTES lists routes that no longer exist: {stale}"


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture
def world(
    svc: Services,
    make_tenant: Callable[..., TenantFixture],
    api_event: Callable[..., dict[str, Any]],
    invoke: Any,
) -> dict[str, Any]:
    tenant = make_tenant("acme", plan=Plan.PLUS)
    staff = StaffApi(api_event, invoke)
    make_staff = make_staff_factory(svc)
    owner_id, owner_email = make_staff(tenant.tenant_id, Role.OWNER)
    other_id, _ = make_staff(tenant.tenant_id, Role.EDITOR)
    capture = api_event(
        "consent_capture_json",
        json_body={"email": CONTACT_EMAIL, "purpose": ["sales-and-service"], "first_name": "Dorte"},
        path="/v1/public/acme/consents",
        path_parameters={"tenant_id": "acme"},
        headers={"origin": None},
    )
    captured = invoke("consent_capture", capture)
    assert captured["statusCode"] == 201, captured["body"]
    token = staff.token(owner_email, PASSWORD)
    offset = [0.0]
    started = svc.clock()
    svc.clock = lambda: started + timedelta(seconds=offset[0])

    def advance(seconds: float = 31) -> None:
        offset[0] += seconds

    world: dict[str, Any] = {
        "advance": advance,
        "owner_email": owner_email,
        "svc": svc,
        "staff": staff,
        "token": token,
        "owner_id": owner_id,
        "contact_id": body_of(captured)["contact_id"],
        "event_id": body_of(staff.admin("GET", "/v1/admin/consent-log", token, query={"email": CONTACT_EMAIL}))[
            "events"
        ][0]["event_id"],
        "user_id": other_id,
        "code": "consent",
        "provider": "twilio",
        "action": "pause",
    }
    return world


def _values_from(world: dict[str, Any], method: str, path: str, response: dict[str, Any]) -> None:
    """Remembers the ids a create answered with, for the routes after it."""
    if method != "POST" or response["statusCode"] >= 300:
        return
    try:
        body = body_of(response)
    except ValueError:
        return
    if not isinstance(body, dict):
        return
    for name in (
        "purpose_id",
        "source_id",
        "key_id",
        "keyword_id",
        "number",
        "import_id",
        "campaign_id",
        "subscription_id",
    ):
        if name in body and path.count("/") <= 4:
            world.setdefault(name, str(body[name]))
    if path == "/v1/admin/me/mfa":
        secret = body["secret"]

        def totp() -> str:  # a code of a later step than any used before (each is accepted once)
            world["advance"]()
            return str(pyotp.TOTP(secret).at(world["svc"].clock()))

        world["totp"] = totp
    if path == "/v1/admin/me/mfa/verify":  # activating a factor ends the session: log in again with a code
        world["token"] = world["staff"].token(world["owner_email"], PASSWORD, totp=world["totp"]())


def test_every_admin_route_leaves_its_audit_entry(world: dict[str, Any]) -> None:
    svc: Services = world["svc"]
    staff: StaffApi = world["staff"]
    operations = {(m, p): o for m, p, o in admin_operations()}
    failures: list[str] = []
    seen = 0
    for (method, path), row in ROUTES.items():
        operation = operations.get((method, path))
        if operation is None:
            continue  # the first test names it
        url = re.sub(r"\{(\w+)\}", lambda m: str(world.get(m.group(1), f"unknown-{m.group(1)}")), path)
        body = example_body(operation) if row.body is EXAMPLE else row.body(world) if callable(row.body) else row.body
        query = row.query(world) if callable(row.query) else row.query
        before = {e["entry_id"] for e in audit.query(svc, "acme", limit=200)[0]}
        response = staff.admin(method, url, world["token"], json_body=body, query=query, ip=IP)
        _values_from(world, method, path, response)
        where = f"{method} {path} -> {response['statusCode']} {response['body'][:200]}"
        if response["statusCode"] >= 300 and response["statusCode"] != row.status:
            failures.append(f"{where}: the call did not succeed, so its audit entry could not be checked")
            continue
        new = [e for e in audit.query(svc, "acme", limit=200)[0] if e["entry_id"] not in before]
        seen += 1
        if row.action == NOTHING:
            if new:
                failures.append(f"{where}: expected no entry, got {[e['action'] for e in new]}")
            continue
        matching = [e for e in new if e["action"] == row.action]
        if not matching:
            failures.append(f"{where}: no {row.action!r} entry (got {[e['action'] for e in new]})")
            continue
        entry = matching[0]
        if entry["actor"]["id"] != world["owner_id"] or entry["ip"] != IP:
            failures.append(f"{where}: the entry does not name the owner and the IP: {entry['actor']} {entry['ip']}")
        if row.names_contact and world["contact_id"] not in entry["contacts"]:
            failures.append(f"{where}: the entry does not name the contact: {entry['contacts']}")
        if method != "GET" and entry["route"] != f"{method} {path}":
            failures.append(f"{where}: the entry's route is {entry['route']!r}")
    assert not failures, "\n".join(failures)
    assert seen == len(ROUTES)
