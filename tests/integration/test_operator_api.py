"""The operator API: only an operator key sets a tenant's plan; no tenant credential of any role reaches it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from samtykke.domain.access import Role
from samtykke.local.apigw import Router
from samtykke.models.tenant import Plan
from samtykke.resources import ROUTES
from samtykke.services import audit
from samtykke.services.api_keys import issue_api_key
from samtykke.services.context import Services
from samtykke.services.operators import issue_operator_key, revoke_operator_key
from tests.integration.conftest import TenantFixture
from tests.integration.staff_support import PASSWORD, StaffApi, body_of, code_of, make_staff_factory, use_cheap_scrypt

pytestmark = pytest.mark.integration

IP = "192.0.2.44"


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture
def acme(make_tenant: Callable[..., TenantFixture]) -> TenantFixture:
    return make_tenant("acme", plan=Plan.PLUS)


@pytest.fixture
def call(api_event: Callable[..., dict[str, Any]], invoke: Any) -> Callable[..., dict[str, Any]]:
    """`PUT /v1/operator/tenants/{tenant}/plan` as API Gateway sends it: to the route's function, past no authorizer."""
    (route,) = [r for r in ROUTES if r.path.startswith("/v1/operator/")]
    assert (route.method, route.auth) == ("PUT", "operator")
    router = Router(ROUTES)

    def call(
        bearer: str | None, tenant_id: str = "acme", plan: str = "enterprise", authorizer: dict[str, str] | None = None
    ) -> dict[str, Any]:
        path = f"/v1/operator/tenants/{tenant_id}/plan"
        match = router.match("PUT", path)
        assert match is not None
        assert match.route.function == "operator_api"
        event = api_event("admin_request", path=path, json_body={"plan": plan}, headers={"authorization": None})
        event["requestContext"].pop("authorizer", None)
        if authorizer is not None:  # as if the route had been put behind the tenant authorizer by mistake
            event["requestContext"]["authorizer"] = {"lambda": authorizer}
        if bearer is not None:
            event["headers"]["authorization"] = f"Bearer {bearer}"
        event["requestContext"]["http"]["method"] = "PUT"
        event["requestContext"]["http"]["sourceIp"] = IP
        event["routeKey"] = event["requestContext"]["routeKey"] = match.route_key
        event["pathParameters"] = match.path_parameters
        return invoke(match.route.function, event)

    return call


def _plan(svc: Services, tenant_id: str = "acme") -> str:
    from samtykke.services.staff import security_settings

    return str(security_settings(svc, tenant_id)["plan"])


def test_no_tenant_credential_of_any_role_reaches_the_operator_route(
    svc: Services,
    acme: TenantFixture,
    call: Callable[..., dict[str, Any]],
    api_event: Callable[..., dict[str, Any]],
    invoke: Any,
) -> None:
    _, owner_email = make_staff_factory(svc)("acme", Role.OWNER)
    staff = StaffApi(api_event, invoke)
    session = staff.token(owner_email, PASSWORD)
    _, owner_key = issue_api_key(svc, "acme", Role.OWNER, "owner key")
    owner_context = staff.authorize(owner_key)
    assert owner_context is not None
    assert owner_context["role"] == "owner"  # a live owner credential

    for bearer in (session, owner_key, acme.api_key, None, "sko_" + "x" * 43):
        refused = call(bearer)
        expected = "invalid_operator_key" if bearer and bearer.startswith("sko_") else "operator_credential_required"
        assert (refused["statusCode"], code_of(refused)) == (401, expected), bearer
    # Not even a tenant owner's principal in the event (the tenant authorizer's context) stands in for the operator.
    forged = call(owner_key, authorizer=owner_context)
    assert (forged["statusCode"], code_of(forged)) == (401, "operator_credential_required")
    assert _plan(svc) == "plus"
    assert not audit.query(svc, "acme", action="operator.plan_set")[0]

    # The old attack, through the tenant routes: still refused.
    own = staff.admin("PUT", "/v1/admin/settings/plan", session, json_body={"plan": "enterprise"})
    assert (own["statusCode"], code_of(own)) == (403, "operator_only")
    assert _plan(svc) == "plus"


def test_the_operator_key_sets_the_plan_and_the_tenants_log_names_the_operator(
    svc: Services, acme: TenantFixture, call: Callable[..., dict[str, Any]]
) -> None:
    key_id, secret = issue_operator_key(svc, "ops@deployer.example")

    changed = call(secret)
    assert changed["statusCode"] == 200, changed["body"]
    assert body_of(changed) == {"plan": "enterprise", "mfa_required": False, "mfa_available": True}
    assert _plan(svc) == "enterprise"
    (entry,), _ = audit.query(svc, "acme", action="operator.plan_set")
    assert entry["actor"] == {"type": "operator", "id": "ops@deployer.example", "role": None}
    assert entry["details"] == {"from": "plus", "to": "enterprise", "operator_key_id": key_id}
    assert entry["target"] == {"type": "tenant", "id": "acme"}
    assert entry["ip"] == IP
    assert call(secret)["statusCode"] == 200  # the same plan again: no change, no second entry
    assert len(audit.query(svc, "acme", action="operator.plan_set")[0]) == 1

    missing = call(secret, tenant_id="nobody")
    assert (missing["statusCode"], code_of(missing)) == (404, "tenant_not_found")
    invalid = call(secret, plan="platinum")
    assert (invalid["statusCode"], code_of(invalid)) == (422, "validation_failed")


def test_an_operator_key_opens_no_tenant_route_and_stops_working_once_revoked(
    svc: Services,
    acme: TenantFixture,
    call: Callable[..., dict[str, Any]],
    api_event: Callable[..., dict[str, Any]],
    invoke: Any,
) -> None:
    key_id, secret = issue_operator_key(svc, "ops@deployer.example")
    assert StaffApi(api_event, invoke).authorize(secret) is None  # the tenant authorizer refuses it

    revoked = revoke_operator_key(svc, key_id)
    assert revoked["revoked"] is True
    refused = call(secret, plan="basic")
    assert (refused["statusCode"], code_of(refused)) == (401, "invalid_operator_key")
    assert _plan(svc) == "plus"


def test_a_stranger_is_refused_before_the_body_is_looked_at(acme: TenantFixture, call: Callable[..., Any]) -> None:
    # A body the route would refuse (no such plan), without an operator key: 401, never 422 telling the schema
    for bearer in (None, "sko_made-up"):
        response = call(bearer, plan="galactic")
        assert response["statusCode"] == 401, response["body"]
