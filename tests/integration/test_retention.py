"""Retention: an unconfirmed double opt-in past its tenant's TTL expires, leaving nothing but the expiry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from samtykke.services.context import Services
from tests.conftest import load_event
from tests.integration.conftest import TenantFixture
from tests.integration.rights_support import admin_call, body

pytestmark = pytest.mark.integration


@pytest.fixture
def call(api_event: Callable[..., dict[str, Any]], invoke: Any, tenant: TenantFixture) -> Callable[..., dict[str, Any]]:
    def run(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(api_event, invoke, tenant, method, path, **kwargs)

    return run


def _capture(invoke: Any, email: str, purposes: list[str]) -> str:
    event = load_event("apigw/consent_capture_json.json")
    event["body"] = json.dumps({"email": email, "purpose": purposes})
    event["headers"]["content-type"] = "application/json"
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 201, response["body"]
    return str(json.loads(response["body"])["contact_id"])


def _sweep(invoke: Any) -> dict[str, Any]:
    result: dict[str, Any] = invoke("retention_sweeper", load_event("eventbridge/retention_sweep.json"))
    return result


def _later(svc: Services, days: float) -> None:
    """Moves the services' clock on by `days` (the handlers share the same services)."""
    start = svc.clock()
    svc.clock = lambda: start + timedelta(days=days)


def _items(svc: Services, tenant: TenantFixture, contact_id: str) -> list[dict[str, Any]]:
    return svc.repo.load_contact(tenant.tenant_id, contact_id)


def test_an_unconfirmed_signup_expires_and_leaves_only_its_expiry(
    svc: Services, tenant: TenantFixture, invoke: Any, call: Callable[..., dict[str, Any]]
) -> None:
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    # Given a sign-up that never confirmed, and one whose other consent needed no confirmation
    only_pending = _capture(invoke, "never@example.dk", ["e-marketing"])
    mixed = _capture(invoke, "mixed@example.dk", ["e-marketing", "sales-and-service"])

    # When a week passes: nothing yet (the default TTL is seven days)
    _later(svc, 6.9)
    assert _sweep(invoke)["expired"] == 0

    # When more than seven days have passed
    _later(svc, 1.2)
    summary = _sweep(invoke)

    # Then both pending requests expired, through an `expire` event
    assert (summary["expired"], summary["shredded_contacts"]) == (2, 1)
    for contact_id in (only_pending, mixed):
        events = [i for i in _items(svc, tenant, contact_id) if i["sk"].startswith("EVENT#")]
        expiry = [e for e in events if e["type"] == "expire"]
        assert [(e["purpose"], e["channel"], e["status"]) for e in expiry] == [("e-marketing", "email", "withdrawn")]
        assert expiry[0]["actor"] == {"type": "system", "id": "retention_sweeper"}

    # And the person who never confirmed anything is gone: no key, no profile, no address item
    tombstone = next(i for i in _items(svc, tenant, only_pending) if i["sk"] == "PROFILE")
    assert (tombstone["erased"], tombstone["erasure_reason"]) == (True, "expired")
    assert "wrapped_key" not in tombstone
    assert svc.repo.get_address(tenant.tenant_id, "email", keys.blind_index("email", "never@example.dk")) is None
    assert call("GET", "/v1/admin/contacts", query={"email": "never@example.dk"})["statusCode"] == 404

    # And the other keeps its granted consent
    summary_after = body(call("GET", f"/v1/admin/contacts/{mixed}"))
    assert {(c["purpose"], c["status"]) for c in summary_after["consents"]} == {
        ("e-marketing", "withdrawn"),
        ("sales-and-service", "granted"),
    }

    # And a second sweep finds nothing left to do
    assert _sweep(invoke)["expired"] == 0

    # And the same address may sign up afresh: it is not suppressed
    fresh = _capture(invoke, "never@example.dk", ["e-marketing"])
    assert fresh != only_pending


def test_each_tenant_has_its_own_ttl_and_a_confirmed_request_never_expires(
    svc: Services, tenant: TenantFixture, invoke: Any, call: Callable[..., dict[str, Any]]
) -> None:
    assert call("PATCH", "/v1/admin/settings", json_body={"pending_ttl_days": 30})["statusCode"] == 200
    assert call("PATCH", "/v1/admin/settings", json_body={"pending_ttl_days": 0})["statusCode"] == 422
    waiting = _capture(invoke, "slow@example.dk", ["e-marketing"])
    confirmed = _capture(invoke, "quick@example.dk", ["e-marketing"])
    confirm = next(
        i for i in _items(svc, tenant, confirmed) if i["sk"].startswith("STATE#") and i["status"] == "pending"
    )
    _confirm(svc, tenant, confirmed, confirm)

    _later(svc, 8)
    assert _sweep(invoke)["expired"] == 0
    _later(svc, 31 - 8)
    assert _sweep(invoke)["expired"] == 1

    statuses = {
        cid: {i["status"] for i in _items(svc, tenant, cid) if i["sk"].startswith("STATE#")}
        for cid in (waiting, confirmed)
    }
    assert statuses == {waiting: {"withdrawn"}, confirmed: {"granted"}}


def _confirm(svc: Services, tenant: TenantFixture, contact_id: str, state: dict[str, Any]) -> None:
    from samtykke.domain.consent import ActorType, Channel, ConsentStatus, EventType, LegalBasis
    from samtykke.models.consent import Actor, Evidence
    from samtykke.services.ledger import ContactTarget, Ledger, StateChange

    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    Ledger(svc, keys).write(
        ContactTarget(contact_id=contact_id),
        lambda _: [
            StateChange(
                state["purpose"],
                Channel(state["channel"]),
                EventType.CONFIRM,
                ConsentStatus.GRANTED,
                LegalBasis.CONSENT,
                state["source"],
            )
        ],
        Actor(type=ActorType.CONTACT),
        Evidence(at=svc.clock()),
    )
