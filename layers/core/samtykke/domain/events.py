"""Change events: what a committed table write means to the outside world, as CloudEvents 1.0.

The table's stream carries every committed write with its old and new image. `change_events` reads one such
record and returns the CloudEvents it stands for (most records stand for none: configuration, sessions, send
records). Pure: images come in as plain dicts, already decoded from DynamoDB JSON.

| item written | CloudEvents `type` |
| --- | --- |
| a consent event (`EVENT#…`, inserted) | `dk.samtykke.consent.{granted, requested, confirmed, withdrawn, imported,
  legal_basis_changed, expired, erased}` |
| an address's suppressions (`ADDR`) | `dk.samtykke.suppression.added` / `dk.samtykke.suppression.lifted`, one per key |
| a profile turning `erased` | `dk.samtykke.contact.erased` |
| an import reaching `completed` or `failed` | `dk.samtykke.import.finished` |
| a campaign reaching `done` | `dk.samtykke.campaign.finished` |

An event's `id` is stable: a consent event keeps its own id (`evt_…`); the others derive theirs from the stream
record's id, which a redelivered record keeps. Receivers deduplicate on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from samtykke.domain.consent import ActorType

TYPE_PREFIX = "dk.samtykke."
SPEC_VERSION = "1.0"

# The consent event's `type` (EventType) and resulting status -> the CloudEvents type's last part.
_CONSENT_TYPES = {
    "grant": "granted",
    "confirm": "confirmed",
    "withdraw": "withdrawn",
    "import": "imported",
    "basis_change": "legal_basis_changed",
    "expire": "expired",
    "erase": "erased",
}
_PENDING = frozenset({"pending", "pending_parental"})
_TENANT_ACTORS = frozenset({ActorType.STAFF.value, ActorType.API_KEY.value})
FINISHED_IMPORT = frozenset({"completed", "failed"})
FINISHED_CAMPAIGN = "done"

# Every type a subscription may ask for.
EVENT_TYPES: tuple[str, ...] = (
    *(f"{TYPE_PREFIX}consent.{name}" for name in (*_CONSENT_TYPES.values(), "requested")),
    f"{TYPE_PREFIX}suppression.added",
    f"{TYPE_PREFIX}suppression.lifted",
    f"{TYPE_PREFIX}contact.erased",
    f"{TYPE_PREFIX}import.finished",
    f"{TYPE_PREFIX}campaign.finished",
)
PING_TYPE = f"{TYPE_PREFIX}webhook.ping"
# The kinds the change feed carries: every consent and suppression change (and erasures, which end a contact).
FEED_PREFIXES = (f"{TYPE_PREFIX}consent.", f"{TYPE_PREFIX}suppression.", f"{TYPE_PREFIX}contact.")


@dataclass(frozen=True)
class StreamChange:
    """One committed write, as the table's stream reports it."""

    record_id: str  # the stream record's eventID: stable across redeliveries
    name: str  # INSERT, MODIFY or REMOVE
    at: str  # ISO time of the commit (approximate)
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass(frozen=True)
class ChangeEvent:
    id: str
    type: str
    tenant_id: str
    time: str
    subject: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def cloudevent(self) -> dict[str, Any]:
        """The CloudEvents 1.0 envelope (JSON format), with `data` as its JSON payload."""
        envelope: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": f"/samtykke/tenants/{self.tenant_id}",
            "type": self.type,
            "time": self.time,
            "datacontenttype": "application/json",
            "data": {"tenant": self.tenant_id, **self.data},
        }
        if self.subject:
            envelope["subject"] = self.subject
        return envelope

    @property
    def in_feed(self) -> bool:
        return self.type.startswith(FEED_PREFIXES)


def derived_id(prefix: str, *parts: str) -> str:
    return f"{prefix}_{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:32]}"


def _key_parts(pk: str) -> list[str]:
    return pk.split("#")


def change_events(change: StreamChange) -> list[ChangeEvent]:
    """The CloudEvents one committed write stands for, in a stable order."""
    image = change.new or change.old or {}
    pk, sk = str(image.get("pk", "")), str(image.get("sk", ""))
    parts = _key_parts(pk)
    if len(parts) < 2 or parts[0] != "T":
        return []
    tenant_id = parts[1]
    if len(parts) == 4 and parts[2] == "C":
        if sk.startswith("EVENT#") and change.name == "INSERT" and change.new is not None:
            return [_consent_event(tenant_id, change.new)]
        if sk == "PROFILE":
            return _erasure(tenant_id, parts[3], change)
        return []
    if len(parts) == 5 and parts[2] == "A" and sk == "ADDR":
        return _suppressions(tenant_id, parts[3], parts[4], change)
    if len(parts) == 4 and parts[2] == "IMP" and sk == "IMPORT":
        return _finished(change, tenant_id, "import", parts[3], FINISHED_IMPORT)
    if len(parts) == 4 and parts[2] == "CAMPAIGN" and sk == "META":
        return _finished(change, tenant_id, "campaign", parts[3], frozenset({FINISHED_CAMPAIGN}))
    return []


def _consent_event(tenant_id: str, event: dict[str, Any]) -> ChangeEvent:
    status = str(event["status"])
    kind = _CONSENT_TYPES.get(str(event["type"]), str(event["type"]))
    if kind == "granted" and status in _PENDING:
        kind = "requested"
    actor = event.get("actor") or {}
    data = {
        "contact_id": event["contact_id"],
        "purpose": event["purpose"],
        "channel": event["channel"],
        "status": status,
        "legal_basis": event.get("legal_basis"),
        "source": event.get("source"),
        "event_id": event["event_id"],
        "seq": event["seq"],
        "hash": event.get("hash"),
        "actor_type": actor.get("type"),
        # Who in the tenant made the change (a staff member's user id, an API key's id); a person acting for
        # themselves, a provider or the system is named by its type only.
        "actor_id": actor.get("id") if actor.get("type") in _TENANT_ACTORS else None,
    }
    return ChangeEvent(
        id=str(event["event_id"]),
        type=f"{TYPE_PREFIX}consent.{kind}",
        tenant_id=tenant_id,
        time=str(event["at"]),
        subject=str(event["contact_id"]),
        data={k: v for k, v in data.items() if v is not None},
    )


def _erasure(tenant_id: str, contact_id: str, change: StreamChange) -> list[ChangeEvent]:
    was = bool((change.old or {}).get("erased"))
    now = bool((change.new or {}).get("erased"))
    if was or not now:
        return []
    at = str((change.new or {}).get("erased_at") or change.at)
    return [
        ChangeEvent(
            id=derived_id("chg", change.record_id),
            type=f"{TYPE_PREFIX}contact.erased",
            tenant_id=tenant_id,
            time=at,
            subject=contact_id,
            data={"contact_id": contact_id, "status": "erased"},
        )
    ]


def _suppressions(tenant_id: str, kind: str, blind_index: str, change: StreamChange) -> list[ChangeEvent]:
    before: dict[str, Any] = dict((change.old or {}).get("suppressions") or {})
    after: dict[str, Any] = dict((change.new or {}).get("suppressions") or {})
    contact_id = (change.new or change.old or {}).get("contact_id")
    events = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        added = key in after
        record = after.get(key) if added else before.get(key)
        channel, _, purpose = key.partition("#")
        data = {
            "contact_id": contact_id,
            "address_kind": kind,
            "address_id": blind_index,
            "channel": channel,
            "purpose": purpose,
            "status": "suppressed" if added else "lifted",
            "reason": (record or {}).get("reason"),
        }
        events.append(
            ChangeEvent(
                id=derived_id("chg", change.record_id, key),
                type=f"{TYPE_PREFIX}suppression.{'added' if added else 'lifted'}",
                tenant_id=tenant_id,
                time=str((record or {}).get("at") or change.at) if added else change.at,
                subject=str(contact_id) if contact_id else None,
                data={k: v for k, v in data.items() if v is not None},
            )
        )
    return events


def _finished(
    change: StreamChange, tenant_id: str, what: str, item_id: str, finished: frozenset[str]
) -> list[ChangeEvent]:
    status = (change.new or {}).get("status")
    if status not in finished or (change.old or {}).get("status") == status:
        return []
    new = change.new or {}
    # Imports keep a `counts` map; campaigns keep `n_…` counters.
    counts = dict(new.get("counts") or {}) or {
        k: v for k, v in new.items() if k.startswith("n_") and isinstance(v, int)
    }
    return [
        ChangeEvent(
            id=derived_id("chg", change.record_id),
            type=f"{TYPE_PREFIX}{what}.finished",
            tenant_id=tenant_id,
            time=change.at,
            subject=None,
            data={f"{what}_id": item_id, "status": status, "counts": counts},
        )
    ]
