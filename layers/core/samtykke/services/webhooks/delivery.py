"""Delivering change events to webhook subscriptions: fan-out, signed attempts, retries, the DLQ and replay.

The webhook queue carries two kinds of message:
- an EventBridge event (the bus's rule sends every change event here): it is fanned out into one delivery per
  subscription that wants its type, each recorded in the delivery log (once, whatever the redeliveries) and queued
  as attempt 1;
- `{"kind": "attempt", ...}`: one attempt of one delivery. A failed attempt queues the next with a growing, jittered
  delay (RetryPolicy); SQS delays at most 15 minutes, so a longer wait is re-queued in steps until `not_before`.
  Past the retry window the delivery is `dead`: the message goes to the DLQ and the subscription turns `failing`,
  and the log's replay queues it afresh.

Each attempt is claimed by its number (`attempts` must still be n - 1), so a redelivered message cannot record an
attempt twice. The `webhook-id` is the event's id: the same on every attempt and every replay, for receivers to
deduplicate on (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from samtykke.adapters.events.http_sender import SendResult, post
from samtykke.adapters.events.repository import EventsRepository
from samtykke.adapters.events.webhook_queue import MAX_DELAY_SECONDS, WebhookQueue
from samtykke.domain.errors import Conflict, NotFound
from samtykke.domain.events import PING_TYPE
from samtykke.domain.webhooks import RetryPolicy, signed_headers
from samtykke.observability import logger
from samtykke.services.context import Services
from samtykke.services.ledger import Ledger
from samtykke.services.webhooks.subscriptions import get, is_local, live_secrets, tenant_keys, wants

ATTEMPT = "attempt"
LOG_RETENTION_DAYS = 30


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"


def queue(svc: Services) -> WebhookQueue:
    return WebhookQueue(svc.settings.webhook_queue_url, svc.settings.webhook_dlq_url)


def delivery_id(event: dict[str, Any], subscription_id: str) -> str:
    """Time-ordered by the event's time (so the log reads newest first) and the same for every redelivery."""
    at = datetime.fromisoformat(str(event["time"]))
    digest = hashlib.sha256(f"{event['id']}|{subscription_id}".encode()).hexdigest()[:20]
    return f"dlv_{int(at.timestamp() * 1000):012x}{digest}"


def _attempt_message(
    tenant_id: str, subscription_id: str, delivery: str, attempt: int, not_before: float = 0
) -> dict[str, Any]:
    return {
        "kind": ATTEMPT,
        "tenant_id": tenant_id,
        "subscription_id": subscription_id,
        "delivery_id": delivery,
        "attempt": attempt,
        "not_before": not_before,
    }


def _tenant_of(event: dict[str, Any]) -> str:
    return str(event["data"]["tenant"])


def fan_out(svc: Services, event: dict[str, Any]) -> int:
    """Records and queues one delivery per subscription that wants the event; returns how many were queued."""
    tenant_id = _tenant_of(event)
    repo = EventsRepository(svc.repo)
    now = svc.clock()
    messages = []
    for subscription in repo.subscriptions(tenant_id):
        if subscription["status"] == "paused" or not wants(subscription, str(event["type"])):
            continue
        delivery = delivery_id(event, subscription["subscription_id"])
        created = repo.create_delivery(tenant_id, _delivery_item(subscription["subscription_id"], delivery, event, now))
        existing = None if created else repo.delivery(tenant_id, subscription["subscription_id"], delivery)
        if created or (existing is not None and existing["status"] == "pending" and existing["attempts"] == 0):
            messages.append(_attempt_message(tenant_id, subscription["subscription_id"], delivery, 1))
    queue(svc).send(messages)
    return len(messages)


def _delivery_item(subscription_id: str, delivery: str, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "delivery_id": delivery,
        "subscription_id": subscription_id,
        "event_id": event["id"],
        "event_type": event["type"],
        "event": json.dumps(event, separators=(",", ":")),
        "status": "pending",
        "attempts": 0,
        "created_at": now.isoformat(),
        "expires_at": int(now.timestamp()) + LOG_RETENTION_DAYS * 86400,
    }


def _body(svc: Services, tenant_id: str, subscription: dict[str, Any], event: dict[str, Any]) -> str:
    """The CloudEvent as sent: with the contact's addresses only if the subscription opted in (and it still
    exists; an erased contact has none)."""
    if subscription.get("include_addresses") and event.get("subject", "").startswith("con_"):
        try:
            profile = Ledger(svc, tenant_keys(svc, tenant_id)).load(str(event["subject"])).profile
        except NotFound:
            profile = None
        if profile is not None:
            addresses = {k: v for k, v in (("email", profile.email), ("phone", profile.phone)) if v}
            event = {**event, "data": {**event["data"], **addresses}}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def send_once(svc: Services, tenant_id: str, subscription: dict[str, Any], event: dict[str, Any]) -> SendResult:
    body = _body(svc, tenant_id, subscription, event)
    timestamp = int(svc.clock().timestamp())
    headers = signed_headers(live_secrets(svc, tenant_id, subscription), str(event["id"]), timestamp, body)
    return post(subscription["url"], body, headers, local=is_local(svc))


def attempt(svc: Services, message: dict[str, Any]) -> None:
    """One attempt of one delivery, or its re-queueing if its time has not come."""
    tenant_id, subscription_id, delivery = message["tenant_id"], message["subscription_id"], message["delivery_id"]
    number = int(message["attempt"])
    now = svc.clock()
    wait = float(message.get("not_before") or 0) - now.timestamp()
    if wait > 1:
        queue(svc).send([message], delay_seconds=int(min(MAX_DELAY_SECONDS, wait)))
        return
    repo = EventsRepository(svc.repo)
    item = repo.delivery(tenant_id, subscription_id, delivery)
    subscription = repo.subscription(tenant_id, subscription_id)
    if item is None or item["attempts"] != number - 1 or item["status"] in ("delivered", "dead"):
        return  # a duplicate of an attempt already recorded, or a delivery that is over
    if subscription is None:
        return  # deleted: its deliveries are dropped
    if subscription["status"] == "paused":
        repo.record_attempt(tenant_id, subscription_id, delivery, number - 1, {"status": "paused"})
        return
    result = send_once(svc, tenant_id, subscription, json.loads(item["event"]))
    outcome: dict[str, Any] = {
        "attempts": number,
        "last_attempt_at": now.isoformat(),
        "last_status_code": result.status_code,
        "last_error": result.error,
        "first_attempt_at": item.get("first_attempt_at") or now.isoformat(),
    }
    if result.ok:
        outcome |= {"status": "delivered", "delivered_at": now.isoformat(), "next_attempt_at": None}
        if (
            repo.record_attempt(tenant_id, subscription_id, delivery, number - 1, outcome)
            and subscription["status"] == "failing"
        ):
            repo.update_subscription(tenant_id, subscription_id, {"status": "active", "failing_since": None})
        return
    elapsed = (now - datetime.fromisoformat(outcome["first_attempt_at"])).total_seconds()
    delay = RetryPolicy.parse(svc.settings.webhook_retry).next_delay(number, elapsed)
    if delay is None:
        outcome |= {"status": "dead", "next_attempt_at": None}
        queue(svc).send_dead({**message, "event_id": item["event_id"], "event_type": item["event_type"]})
        if repo.record_attempt(tenant_id, subscription_id, delivery, number - 1, outcome):
            repo.update_subscription(
                tenant_id, subscription_id, {"status": "failing", "failing_since": now.isoformat()}
            )
            logger.warning("Webhook delivery dead", extra={"subscription_id": subscription_id, "attempts": number})
        return
    due = now + timedelta(seconds=delay)
    outcome |= {"status": "retrying", "next_attempt_at": due.isoformat()}
    # Queue the next attempt before recording this one: a crash in between repeats this attempt, never loses one.
    queue(svc).send(
        [_attempt_message(tenant_id, subscription_id, delivery, number + 1, due.timestamp())],
        delay_seconds=min(delay, MAX_DELAY_SECONDS),
    )
    repo.record_attempt(tenant_id, subscription_id, delivery, number - 1, outcome)


def handle(svc: Services, body: dict[str, Any]) -> None:
    """One webhook-queue message: an EventBridge event to fan out, or a delivery attempt."""
    if body.get("kind") == ATTEMPT:
        attempt(svc, body)
    elif "detail" in body:
        fan_out(svc, body["detail"])
    else:
        logger.warning("Unknown webhook-queue message dropped", extra={"keys": sorted(body)})


def replay(svc: Services, tenant_id: str, subscription_id: str, delivery: str) -> dict[str, Any]:
    """Queues a logged delivery again from attempt 1 (same webhook-id), whatever its status."""
    repo = EventsRepository(svc.repo)
    get(svc, tenant_id, subscription_id)
    item = repo.delivery(tenant_id, subscription_id, delivery)
    if item is None:
        raise DeliveryNotFound("No such delivery")
    reset = {"status": "pending", "attempts": 0, "first_attempt_at": None, "next_attempt_at": None}
    if not repo.record_attempt(
        tenant_id, subscription_id, delivery, int(item["attempts"]), {**reset, "replayed_at": svc.clock().isoformat()}
    ):
        raise Conflict("The delivery is being attempted right now; try again", code="delivery_busy")
    queue(svc).send([_attempt_message(tenant_id, subscription_id, delivery, 1)])
    return {**item, **reset}


def ping(svc: Services, tenant_id: str, subscription_id: str) -> tuple[SendResult, str]:
    """Sends a `dk.samtykke.webhook.ping` event now, signed like any delivery, and reports what came back."""
    subscription = get(svc, tenant_id, subscription_id)
    event = {
        "specversion": "1.0",
        "id": f"png_{secrets.token_hex(12)}",
        "source": f"/samtykke/tenants/{tenant_id}",
        "type": PING_TYPE,
        "time": svc.clock().isoformat(),
        "datacontenttype": "application/json",
        "data": {"tenant": tenant_id, "subscription_id": subscription_id},
    }
    return send_once(svc, tenant_id, subscription, event), str(event["id"])
