"""Seeding the local stack's demo tenant."""

from __future__ import annotations

from dataclasses import dataclass

from samtykke.domain.access import Role
from samtykke.domain.defaults import STANDARD_PURPOSES
from samtykke.models.tenant import Plan
from samtykke.services.api_keys import issue_api_key
from samtykke.services.context import Services, services
from samtykke.services.staff import seed_demo_staff
from samtykke.services.tenants import create_tenant

DEMO_TENANT_ID = "demo"


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    admin_api_key: str
    purposes: list[str]


def seed_demo_tenant(public_base_url: str) -> DemoTenant:
    svc = services()
    create_tenant(
        svc,
        DEMO_TENANT_ID,
        "Demo Shop ApS",
        plan=Plan.PLUS,
        country="DK",
        default_locale="da",
        allowed_origins=[public_base_url],
        allowed_redirects=[f"{public_base_url}/demo/thanks"],
        privacy_policy_url="https://example.com/privacy",
    )
    # An owner key: full rights, the plan included (PUT /v1/admin/settings/plan is owner only).
    _, secret = issue_api_key(svc, DEMO_TENANT_ID, Role.OWNER, "local demo admin key")
    seed_demo_staff(svc, DEMO_TENANT_ID, public_base_url)
    seed_demo_webhook(svc, DEMO_TENANT_ID)
    return DemoTenant(DEMO_TENANT_ID, secret, [p.purpose_id for p in STANDARD_PURPOSES])


DEMO_WEBHOOK_ID = "whk_demo"


def seed_demo_webhook(svc: Services, tenant_id: str) -> None:
    """A paused webhook subscription, so the admin API's webhook examples have one to work on."""
    from samtykke.models.webhooks import WebhookCreate
    from samtykke.services.webhooks import subscriptions

    request = WebhookCreate(
        url="https://crm.example.com/hooks/samtykke", event_types=["dk.samtykke.consent.*"], description="Demo (paused)"
    )
    subscriptions.create(svc, tenant_id, request, subscription_id=DEMO_WEBHOOK_ID)
    subscriptions.set_status(svc, tenant_id, DEMO_WEBHOOK_ID, "paused")
