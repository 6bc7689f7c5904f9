"""Integration fixtures: a tenant on moto, and the real handlers invoked with canonical events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from samtykke.domain.access import Role
from samtykke.services.api_keys import issue_api_key
from samtykke.services.context import Services, services
from samtykke.services.tenants import create_tenant

if TYPE_CHECKING:
    from tests.integration.campaign_support import QueuePump

ACME_ORIGIN = "https://www.acme.example"
ACME_THANKS = "https://www.acme.example/thanks"


@dataclass(frozen=True)
class TenantFixture:
    tenant_id: str
    api_key: str
    key_id: str

    def authorizer(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"tenant_id": self.tenant_id, "principal_id": self.key_id, "principal_type": "api_key", "role": role}


@pytest.fixture
def svc(aws: Any) -> Services:
    return services()


@pytest.fixture
def make_tenant(svc: Services) -> Callable[..., TenantFixture]:
    def make(tenant_id: str = "acme", **settings: Any) -> TenantFixture:
        create_tenant(
            svc,
            tenant_id,
            f"{tenant_id.title()} A/S",
            allowed_origins=[ACME_ORIGIN],
            allowed_redirects=[ACME_THANKS],
            **settings,
        )
        key_id, secret = issue_api_key(svc, tenant_id, Role.ADMIN, "tests")
        return TenantFixture(tenant_id, secret, key_id)

    return make


@pytest.fixture
def tenant(make_tenant: Callable[..., TenantFixture]) -> TenantFixture:
    return make_tenant()


@pytest.fixture
def invoke() -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """Calls a function's real `lambda_handler`, as Lambda would."""
    from samtykke.local.lambdas import invoke as invoke_handler

    def call(function: str, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = invoke_handler(function, event)
        return response

    return call


@pytest.fixture
def fast_transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto copies the whole table for each transaction; suites that seed many contacts use the cheap rollback."""
    from samtykke.local.moto_speedups import cheap_transaction_rollback

    with cheap_transaction_rollback(monkeypatch):
        yield


@pytest.fixture
def pump(aws: Any, invoke: Callable[[str, dict[str, Any]], dict[str, Any]]) -> QueuePump:
    """The campaign queues, received and handed to their functions one step at a time (campaign_support)."""
    from tests.integration.campaign_support import QueuePump

    return QueuePump(aws, invoke)


@pytest.fixture
def admin(
    invoke: Callable[[str, dict[str, Any]], dict[str, Any]],
    api_event: Callable[..., dict[str, Any]],
    tenant: TenantFixture,
) -> Callable[..., dict[str, Any]]:
    """An admin API call as the tenant's admin API key: `admin("POST", "/v1/admin/...", json_body=...)`."""
    from tests.integration.campaign_support import admin_call

    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(invoke, api_event, tenant, method, path, **kwargs)

    return call


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
