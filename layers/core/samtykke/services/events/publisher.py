"""The table stream's consumer: each committed change becomes a CloudEvent on the bus and, for consent and
suppression changes, an entry in the tenant's change feed.

The stream is the transactional outbox: DynamoDB puts a record on it only when a write commits, so an event is
never lost when the write succeeded and never made up when it failed. A batch that fails is reported from its first
record, and Lambda delivers it again (at least once; the CloudEvent ids are stable, so consumers deduplicate).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from samtykke.adapters.events.event_bus import EventBus
from samtykke.adapters.events.repository import EventsRepository, feed_pk
from samtykke.adapters.repository import from_attributes
from samtykke.domain.errors import SamtykkeError
from samtykke.domain.events import ChangeEvent, StreamChange, change_events
from samtykke.observability import logger
from samtykke.services.context import Services

FEED_RETENTION_DAYS = 400  # a year and a month: a yearly reconciliation still finds every change


def _from_lambda(value: Any) -> Any:
    """Lambda's stream events carry binary attributes as base64 text; boto3's deserializer wants bytes."""
    if isinstance(value, dict):
        if set(value) == {"B"} and isinstance(value["B"], str):
            return {"B": base64.b64decode(value["B"])}
        if set(value) == {"BS"}:
            return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in value["BS"]]}
        return {k: _from_lambda(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_lambda(v) for v in value]
    return value


def _image(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    return from_attributes(_from_lambda(body[name])) if name in body else None


def stream_change(record: dict[str, Any]) -> StreamChange:
    """A Lambda DynamoDB-stream record as a `StreamChange` (images decoded to plain values)."""
    body = record.get("dynamodb") or {}
    created = body.get("ApproximateCreationDateTime")
    at = datetime.fromtimestamp(float(created), UTC) if isinstance(created, int | float | str) else datetime.now(UTC)
    return StreamChange(
        record_id=str(record["eventID"]),
        name=str(record["eventName"]),
        at=at.isoformat(),
        old=_image(body, "OldImage"),
        new=_image(body, "NewImage"),
    )


def feed_item(event: ChangeEvent, recorded_at: datetime, index: int) -> dict[str, Any]:
    return {
        "pk": feed_pk(event.tenant_id, recorded_at.strftime("%Y-%m")),
        "sk": f"{recorded_at.isoformat(timespec='milliseconds')}#{index:04d}#{event.id}",
        "event": event.cloudevent(),
        "expires_at": int(recorded_at.timestamp()) + FEED_RETENTION_DAYS * 86400,
    }


def publish(svc: Services, bus: EventBus, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Publishes a stream batch; the partial-batch response names the first record if anything failed."""
    events = [event for record in records for event in change_events(stream_change(record))]
    if not events:
        return {"batchItemFailures": []}
    recorded_at = svc.clock()
    try:
        EventsRepository(svc.repo).append_feed(
            [feed_item(event, recorded_at, i) for i, event in enumerate(events) if event.in_feed]
        )
        bus.put([event.cloudevent() for event in events])
    except SamtykkeError as exc:
        logger.warning("Publishing changes failed; the batch will be retried", extra={"error_code": exc.code})
        return {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    logger.info("Published changes", extra={"events": len(events), "records": len(records)})
    return {"batchItemFailures": []}
