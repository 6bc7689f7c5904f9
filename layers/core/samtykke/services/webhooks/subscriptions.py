"""Webhook subscriptions: create, list, update, pause, resume, delete, and secret rotation with an overlap window.

Secrets are sealed with the tenant's key (adapters/secrets.SecretBox), bound to the subscription and the
secret's id, and returned only when made. A rotation makes a new primary secret; the previous ones keep signing
until their overlap ends, so receivers can switch without missing a delivery.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.events.http_sender import resolve
from samtykke.adapters.events.repository import EventsRepository
from samtykke.adapters.secrets import SecretBox
from samtykke.domain.errors import InvalidInput, NotFound
from samtykke.domain.events import EVENT_TYPES
from samtykke.domain.webhooks import check_resolved, check_url, new_secret
from samtykke.models.webhooks import WebhookCreate, WebhookUpdate
from samtykke.services.context import Services

MAX_SUBSCRIPTIONS = 20
MAX_OVERLAP_HOURS = 7 * 24


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class TooManyWebhooks(InvalidInput):
    code = "too_many_webhooks"


class UnknownEventType(InvalidInput):
    code = "unknown_event_type"


def is_local(svc: Services) -> bool:
    return svc.settings.stage == "local"


def tenant_keys(svc: Services, tenant_id: str) -> TenantKeys:
    return svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)


def wants(subscription: dict[str, Any], event_type: str) -> bool:
    return any(fnmatchcase(event_type, pattern) for pattern in subscription["event_types"])


def _check_event_types(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        if not any(fnmatchcase(t, pattern) for t in EVENT_TYPES):
            raise UnknownEventType(f"{pattern!r} matches no event type; see docs/events.md")
    return sorted(set(patterns))


def check_target(svc: Services, url: str) -> str:
    """Refuses a non-HTTPS URL and, in the cloud, one whose host resolves to a private address. Deliveries check
    again at every attempt, since DNS can change."""
    _, host, port = check_url(url, allow_insecure=is_local(svc))
    if not is_local(svc):
        check_resolved(resolve(host, port), allow_private=False)
    return url


def _secret_name(subscription_id: str, secret_id: str) -> str:
    return f"webhook/{subscription_id}/{secret_id}"


def _sealed_secret(keys: TenantKeys, subscription_id: str, secret: str, at: datetime) -> dict[str, Any]:
    secret_id = f"sec_{secrets.token_hex(6)}"
    return {
        "secret_id": secret_id,
        "sealed": SecretBox(keys).seal(_secret_name(subscription_id, secret_id), secret),
        "created_at": at.isoformat(),
    }


def live_secrets(svc: Services, tenant_id: str, subscription: dict[str, Any]) -> list[str]:
    """The secrets that sign deliveries now: the primary and any still in their overlap window."""
    box = SecretBox(tenant_keys(svc, tenant_id))
    now = svc.clock().isoformat()
    return [
        box.open(_secret_name(subscription["subscription_id"], s["secret_id"]), s["sealed"])
        for s in subscription["secrets"]
        if not s.get("expires_at") or s["expires_at"] > now
    ]


def create(
    svc: Services, tenant_id: str, request: WebhookCreate, *, subscription_id: str | None = None
) -> tuple[dict[str, Any], str]:
    repo = EventsRepository(svc.repo)
    if len(repo.subscriptions(tenant_id)) >= MAX_SUBSCRIPTIONS:
        raise TooManyWebhooks(f"A tenant may have at most {MAX_SUBSCRIPTIONS} webhook subscriptions")
    now = svc.clock()
    subscription_id = subscription_id or f"whk_{secrets.token_hex(8)}"
    secret = request.secret or new_secret()
    item = {
        "subscription_id": subscription_id,
        "url": check_target(svc, request.url),
        "event_types": _check_event_types(request.event_types),
        "description": request.description,
        "include_addresses": request.include_addresses,
        "status": "active",
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "secrets": [_sealed_secret(tenant_keys(svc, tenant_id), subscription_id, secret, now)],
    }
    repo.create_subscription(tenant_id, item)
    return item, secret


def get(svc: Services, tenant_id: str, subscription_id: str) -> dict[str, Any]:
    item = EventsRepository(svc.repo).subscription(tenant_id, subscription_id)
    if item is None:
        raise WebhookNotFound("No such webhook subscription")
    return item


def list_all(svc: Services, tenant_id: str) -> list[dict[str, Any]]:
    return EventsRepository(svc.repo).subscriptions(tenant_id)


def _update(svc: Services, tenant_id: str, subscription_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    item = EventsRepository(svc.repo).update_subscription(
        tenant_id, subscription_id, {**changes, "updated_at": svc.clock().isoformat()}
    )
    if item is None:
        raise WebhookNotFound("No such webhook subscription")
    return item


def update(svc: Services, tenant_id: str, subscription_id: str, request: WebhookUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "url": check_target(svc, request.url) if request.url else None,
        "event_types": _check_event_types(request.event_types) if request.event_types else None,
        "description": request.description,
        "include_addresses": request.include_addresses,
    }
    return _update(svc, tenant_id, subscription_id, changes)


def set_status(svc: Services, tenant_id: str, subscription_id: str, status: str) -> dict[str, Any]:
    """`paused` (no deliveries until resumed) or `active` (a resume, which also clears `failing`)."""
    get(svc, tenant_id, subscription_id)
    return _update(svc, tenant_id, subscription_id, {"status": status})


def delete(svc: Services, tenant_id: str, subscription_id: str) -> None:
    if not EventsRepository(svc.repo).delete_subscription(tenant_id, subscription_id):
        raise WebhookNotFound("No such webhook subscription")


def rotate_secret(
    svc: Services, tenant_id: str, subscription_id: str, *, overlap_hours: int
) -> tuple[dict[str, Any], str]:
    """A new primary secret; the current ones sign alongside it for `overlap_hours` (0: retired now)."""
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(f"overlap_hours must be 0..{MAX_OVERLAP_HOURS}", code="invalid_overlap")
    item = get(svc, tenant_id, subscription_id)
    now = svc.clock()
    until = (now + timedelta(hours=overlap_hours)).isoformat()
    kept = [
        {**s, "expires_at": min(s.get("expires_at") or until, until)}
        for s in item["secrets"]
        if not s.get("expires_at") or s["expires_at"] > now.isoformat()
    ]
    secret = new_secret()
    fresh = _sealed_secret(tenant_keys(svc, tenant_id), subscription_id, secret, now)
    return _update(svc, tenant_id, subscription_id, {"secrets": [fresh, *kept]}), secret
