"""Admin: webhook subscriptions (create, list, update, pause, resume, delete, rotate the secret, a test ping),
their delivery log with replay, and the change feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.adapters.events.repository import EventsRepository
from samtykke.api.auth import current_principal, guarded
from samtykke.api.request import http_event
from samtykke.domain.access import Permission
from samtykke.models.webhooks import (
    ChangesPage,
    Delivery,
    DeliveryPage,
    PingResult,
    Webhook,
    WebhookCreate,
    WebhookList,
    WebhookSecretInfo,
    WebhookUpdate,
    WebhookWithSecret,
)
from samtykke.services import audit
from samtykke.services.context import services
from samtykke.services.events import feed
from samtykke.services.webhooks import delivery, subscriptions

router = Router()

Action = Literal["pause", "resume", "test", "rotate-secret"]


def _audit(action: str, subscription_id: str, details: dict[str, Any] | None = None) -> None:
    principal = current_principal(router)
    ip = audit.client_ip(http_event(router))
    audit.record(services(), principal, action, target=("webhook", subscription_id), ip=ip, details=details)


def _tenant() -> str:
    return current_principal(router).tenant_id


def _webhook(item: dict[str, Any]) -> Webhook:
    now = services().clock()
    return Webhook(
        subscription_id=item["subscription_id"],
        url=item["url"],
        event_types=item["event_types"],
        description=item.get("description"),
        include_addresses=bool(item.get("include_addresses")),
        status=item["status"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        failing_since=item.get("failing_since") if item["status"] == "failing" else None,
        secrets=[
            WebhookSecretInfo(secret_id=s["secret_id"], created_at=s["created_at"], expires_at=s.get("expires_at"))
            for s in item["secrets"]
            if not s.get("expires_at") or datetime.fromisoformat(s["expires_at"]) > now
        ],
    )


def _with_secret(item: dict[str, Any], secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**_webhook(item).model_dump(), secret=secret)


def _delivery(item: dict[str, Any]) -> Delivery:
    return Delivery.model_validate({k: v for k, v in item.items() if k in Delivery.model_fields})


@router.get(
    "/v1/admin/webhooks", summary="List webhook subscriptions", tags=["webhooks"], **guarded(Permission.WEBHOOKS_READ)
)
def list_webhooks() -> WebhookList:
    return WebhookList(webhooks=[_webhook(item) for item in subscriptions.list_all(services(), _tenant())])


@router.post(
    "/v1/admin/webhooks",
    summary="Subscribe a URL to change events",
    description="HTTPS only (plain HTTP and private addresses are allowed on the local stack alone). The answer "
    "holds the signing secret, the one time it is shown. Deliveries follow Standard Webhooks: see docs/events.md.",
    tags=["webhooks"],
    **guarded(Permission.WEBHOOKS_WRITE),
)
def create_webhook(request: Annotated[WebhookCreate, Body()]) -> tuple[WebhookWithSecret, int]:
    item, secret = subscriptions.create(services(), _tenant(), request)
    _audit("webhook.created", item["subscription_id"], {"event_types": ",".join(item["event_types"])})
    return _with_secret(item, secret), 201


@router.get(
    "/v1/admin/webhooks/<subscription_id>",
    summary="One webhook subscription",
    tags=["webhooks"],
    **guarded(Permission.WEBHOOKS_READ),
)
def get_webhook(subscription_id: str) -> Webhook:
    return _webhook(subscriptions.get(services(), _tenant(), subscription_id))


@router.patch(
    "/v1/admin/webhooks/<subscription_id>",
    summary="Change a subscription's URL, event types, description or address opt-in",
    tags=["webhooks"],
    **guarded(Permission.WEBHOOKS_WRITE),
)
def update_webhook(subscription_id: str, request: Annotated[WebhookUpdate, Body()]) -> Webhook:
    item = subscriptions.update(services(), _tenant(), subscription_id, request)
    _audit("webhook.updated", subscription_id, {"fields": ",".join(sorted(request.model_dump(exclude_none=True)))})
    return _webhook(item)


@router.delete(
    "/v1/admin/webhooks/<subscription_id>",
    summary="Delete a subscription; queued deliveries to it are dropped",
    tags=["webhooks"],
    **guarded(Permission.WEBHOOKS_WRITE),
)
def delete_webhook(subscription_id: str) -> tuple[dict[str, bool], int]:
    subscriptions.delete(services(), _tenant(), subscription_id)
    _audit("webhook.deleted", subscription_id)
    return {"deleted": True}, 200


@router.post(
    "/v1/admin/webhooks/<subscription_id>/<action>",
    summary="Pause, resume, ping, or rotate the secret of a subscription",
    description="`pause`: no deliveries until resumed (the change feed keeps everything). `resume`: deliveries "
    "start again and a `failing` status clears. `test`: sends a signed `dk.samtykke.webhook.ping` now and reports "
    "the answer. `rotate-secret`: a new secret, returned once; the current ones keep signing alongside it for "
    "`overlap_hours` (default 24). No body.",
    tags=["webhooks"],
    **guarded(Permission.WEBHOOKS_WRITE),
)
def webhook_action(
    subscription_id: str,
    action: Action,
    overlap_hours: Annotated[int, Query(ge=0, le=subscriptions.MAX_OVERLAP_HOURS)] = 24,
) -> Webhook | WebhookWithSecret | PingResult:
    svc, tenant_id = services(), _tenant()
    if action == "test":
        result, webhook_id = delivery.ping(svc, tenant_id, subscription_id)
        _audit("webhook.pinged", subscription_id, {"status_code": result.status_code})
        return PingResult(
            delivered=result.ok,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            webhook_id=webhook_id,
        )
    if action == "rotate-secret":
        item, secret = subscriptions.rotate_secret(svc, tenant_id, subscription_id, overlap_hours=overlap_hours)
        _audit("webhook.secret_rotated", subscription_id, {"overlap_hours": overlap_hours})
        return _with_secret(item, secret)
    item = subscriptions.set_status(svc, tenant_id, subscription_id, "paused" if action == "pause" else "active")
    _audit(f"webhook.{'paused' if action == 'pause' else 'resumed'}", subscription_id)
    return _webhook(item)


@router.get(
    "/v1/admin/webhooks/<subscription_id>/deliveries",
    summary="The subscription's delivery log, newest first",
    description="Each event delivered (or being retried, or dead) with its attempts and the last answer. Kept 30 "
    "days. `status=dead` lists what to replay.",
    tags=["webhooks"],
    **guarded(Permission.WEBHOOKS_READ),
)
def list_deliveries(
    subscription_id: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^dlv_[0-9a-f]{32}$")] = None,
    status: Annotated[Literal["pending", "retrying", "delivered", "dead", "paused"] | None, Query()] = None,
) -> DeliveryPage:
    svc, tenant_id = services(), _tenant()
    subscriptions.get(svc, tenant_id, subscription_id)
    items, next_cursor = EventsRepository(svc.repo).deliveries(
        tenant_id, subscription_id, limit=limit, cursor=cursor, status=status
    )
    return DeliveryPage(deliveries=[_delivery(item) for item in items], next_cursor=next_cursor)


@router.post(
    "/v1/admin/webhooks/<subscription_id>/deliveries/<delivery_id>/replay",
    summary="Deliver a logged event again, from its first attempt (same webhook-id)",
    tags=["webhooks"],
    **guarded(Permission.WEBHOOKS_WRITE),
)
def replay_delivery(subscription_id: str, delivery_id: str) -> tuple[Delivery, int]:
    item = delivery.replay(services(), _tenant(), subscription_id, delivery_id)
    _audit("webhook.delivery_replayed", subscription_id, {"delivery_id": delivery_id})
    return _delivery(item), 202


@router.get(
    "/v1/admin/changes",
    summary="The change feed: every consent and suppression change, in the order recorded",
    description="Pass `since` = the last page's `next_cursor` (or an ISO date or time, or nothing for everything "
    "kept, 400 days). Changes are CloudEvents, as webhooks get them, without addresses. At least once: "
    "deduplicate on `id`. The newest 5 seconds are held back until they settle.",
    tags=["webhooks"],
    **guarded(Permission.CHANGES_READ),
)
def list_changes(
    since: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=feed.MAX_PAGE)] = 100,
) -> ChangesPage:
    page = feed.read_changes(services(), _tenant(), since, limit=limit)
    return ChangesPage(changes=page.changes, next_cursor=page.next_cursor, has_more=page.has_more)
