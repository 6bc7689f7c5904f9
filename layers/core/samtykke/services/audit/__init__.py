"""The audit log: append-only, hash-chained per tenant and month, filtered and paged. Other capabilities call
`record`; admin routes are audited for them by `api.auth.guarded` (see `services/audit/requests.py`).

    from samtykke.services import audit
    audit.record(svc, principal, audit.AuditAction.CONTACT_EXPORTED, target=("contact", contact_id), ip=ip)

- `actor`: the request's `Principal` (staff user or API key), or an `AuditActor` for a system actor.
- `action`: an `AuditAction`, or your own stable `area.verb` string.
- `target`: `(type, id)`, e.g. `("contact", "con_...")`, or None. A contact target is also one of `contacts`.
- `contacts`: the contacts whose personal data the action read or changed (searches name every one).
- `ip`: the client IP (`client_ip(event)`), or None. Stored sealed with a tenant key, never in clear.
- `details`: small, non-sensitive facts (`{"from": "editor", "to": "admin"}`). Values under keys such as
  `email`, `phone`, `national_id`, `password`, `token`, `code` are dropped, and anything that looks like an
  email address is masked, so a careless caller cannot put the sensitive value in the log.
- `changes`: before/after values (`domain.audit.changes.describe_changes`); secrets only as "changed", sensitive
  values sealed with a tenant key.

Each entry is one canonical JSON record chained to the month's previous one (`domain/audit/chain.py`). There is
no update or delete path. `record` raises on failure (e.g. 503 `throttled`): call it BEFORE returning sensitive
data, and after a change commits.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from samtykke.adapters.audit_log import AuditLogRepository, HeadMoved, decode_cursor, encode_cursor
from samtykke.adapters.crypto import TenantKeys
from samtykke.domain.access import Principal
from samtykke.domain.audit import AuditAction, clean_details
from samtykke.domain.audit.chain import GENESIS_HASH, seal_record, serialise
from samtykke.domain.errors import RetryableError
from samtykke.services.context import Services

__all__ = ["AuditAction", "AuditActor", "client_ip", "query", "record", "seal_value"]

MAX_PAGE = 200
MAX_ATTEMPTS = 8
MAX_CONTACTS = 200
IP_PURPOSE = "audit-ip-seal"
VALUE_PURPOSE = "audit-value-seal"


class AuditBusy(RetryableError):
    code = "audit_busy"


@dataclass(frozen=True)
class AuditActor:
    """An actor that is not a request's principal: `type` is `staff`, `api_key`, `operator`, `system` or
    `anonymous`."""

    tenant_id: str
    type: str
    id: str | None = None
    role: str | None = None


def client_ip(event: Any) -> str | None:
    """The caller's IP from an API Gateway HTTP API event (a dict or powertools' data class)."""
    raw = event.raw_event if hasattr(event, "raw_event") else event
    ip = ((raw or {}).get("requestContext") or {}).get("http", {}).get("sourceIp")
    return str(ip) if ip else None


def _keys(svc: Services, tenant_id: str) -> TenantKeys:
    return svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)


def _seal(keys: TenantKeys, purpose: str, context: str, plain: bytes) -> str:
    nonce = os.urandom(12)
    box = AESGCM(keys.signing_key(purpose))
    return base64.b64encode(nonce + box.encrypt(nonce, plain, f"{keys.tenant_id}|{context}".encode())).decode()


def _open(keys: TenantKeys, purpose: str, context: str, sealed: str | None) -> bytes | None:
    if not sealed:
        return None
    try:
        raw = base64.b64decode(sealed)
        return AESGCM(keys.signing_key(purpose)).decrypt(raw[:12], raw[12:], f"{keys.tenant_id}|{context}".encode())
    except (InvalidTag, ValueError):
        return None


def seal_value(svc: Services, tenant_id: str, field_name: str, value: Any) -> str:
    """A sensitive before/after value, sealed with the tenant's audit key (bound to the field's name)."""
    plain = json.dumps(value, default=str).encode()
    return _seal(_keys(svc, tenant_id), VALUE_PURPOSE, field_name, plain)


def _actor_of(actor: Principal | AuditActor) -> tuple[str, dict[str, Any]]:
    if isinstance(actor, Principal):
        return actor.tenant_id, {"type": actor.principal_type, "id": actor.principal_id, "role": actor.role.value}
    return actor.tenant_id, {"type": actor.type, "id": actor.id, "role": actor.role}


def record(
    svc: Services,
    actor: Principal | AuditActor,
    action: AuditAction | str,
    target: tuple[str, str] | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    contacts: list[str] | None = None,
    changes: list[dict[str, Any]] | None = None,
    route: str | None = None,
) -> dict[str, Any]:
    """Appends one entry to the actor's tenant's audit log (chained to the month's last) and returns it."""
    from samtykke.services.audit.requests import current, mark_recorded

    request = current()
    if request is not None:  # inside an admin route: the entry names the route and the changes it noted
        route = route or request.route
        changes = changes if changes is not None else request.changes
    tenant_id, actor_fields = _actor_of(actor)
    named = list(dict.fromkeys([*(contacts or []), *([target[1]] if target and target[0] == "contact" else [])]))
    repo = AuditLogRepository(svc.repo.table_name)
    for _ in range(MAX_ATTEMPTS):
        at: datetime = svc.clock()
        month = at.strftime("%Y-%m")
        entry_id = f"{at.isoformat(timespec='milliseconds')}#{secrets.token_hex(6)}"
        body: dict[str, Any] = {
            "tenant_id": tenant_id,
            "month": month,
            "entry_id": entry_id,
            "at": at.isoformat(),
            "action": str(action),
            "actor": actor_fields,
            "target": {"type": target[0], "id": target[1]} if target else None,
            "contacts": named[:MAX_CONTACTS],
            "route": route,
            "ip_sealed": _seal(_keys(svc, tenant_id), IP_PURPOSE, entry_id, ip.encode()) if ip else None,
            "details": clean_details(details),
            "changes": changes or [],
        }
        head = repo.head(tenant_id, month)
        previous_seq = int(head["seq"]) if head else 0
        sealed = seal_record(body, seq=previous_seq + 1, prev_hash=str(head["hash"]) if head else GENESIS_HASH)
        item = {
            "sk": entry_id,
            "seq": sealed["seq"],
            "hash": sealed["hash"],
            "record": serialise(sealed),
            "action": sealed["action"],
            "actor_id": actor_fields["id"],
            "target_id": target[1] if target else None,
            "contacts": named[:MAX_CONTACTS] or None,
        }
        try:
            repo.append(tenant_id, month, item, previous_seq=previous_seq)
        except HeadMoved:
            now = repo.head(tenant_id, month)
            if now is not None and now.get("entry") == entry_id:  # our write committed; its reply was lost
                break
            continue
        break
    else:
        raise AuditBusy("The audit log is busy; retry shortly", retry_after=1)
    mark_recorded()
    return _entry(sealed, ip)


def _entry(rec: dict[str, Any], ip: str | None) -> dict[str, Any]:
    return {
        "entry_id": f"{rec['month']}/{rec['entry_id']}",
        "seq": rec["seq"],
        "at": rec["at"],
        "action": rec["action"],
        "actor": rec["actor"],
        "target": rec.get("target"),
        "contacts": rec.get("contacts") or [],
        "route": rec.get("route"),
        "ip": ip,
        "details": rec.get("details") or {},
        "changes": rec.get("changes") or [],
        "prev_hash": rec["prev_hash"],
        "hash": rec["hash"],
    }


def months_between(since: str | None, until: str | None, now: datetime, default: str | None) -> list[str]:
    """The months a query reads, newest first: `until`'s month back to `since`'s (at most 24)."""
    last = (until or "")[:7] or default or now.strftime("%Y-%m")
    first = (since or "")[:7] or (default or last)
    months: list[str] = []
    year, number = int(last[:4]), int(last[5:7])
    while len(months) < 24:
        month = f"{year:04d}-{number:02d}"
        months.append(month)
        if month <= first:
            break
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return months


def query(
    svc: Services,
    tenant_id: str,
    month: str | None = None,
    *,
    limit: int = 50,
    cursor: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    target_id: str | None = None,
    contact_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the tenant's entries, newest first, and the next page's cursor (None at the end).

    `month` (yyyy-mm) reads one month; `since`/`until` (ISO times) read the months between them.
    """
    filters = {
        name: value
        for name, value in (
            ("action", action),
            ("actor_id", actor_id),
            ("target_id", target_id),
            ("contacts", contact_id),
        )
        if value is not None
    }
    since, until = (t.removesuffix("Z").removesuffix("+00:00") if t else None for t in (since, until))
    limit = max(1, min(limit, MAX_PAGE))
    start_sk = decode_cursor(cursor) if cursor else None
    repo = AuditLogRepository(svc.repo.table_name)
    items: list[dict[str, Any]] = []
    next_cursor: str | None = None
    months = months_between(since, until, svc.clock(), month)
    for chosen in months:
        if start_sk and chosen > start_sk[:7]:
            continue
        page, more = repo.page(
            tenant_id,
            chosen,
            limit=limit - len(items),
            start_sk=start_sk if start_sk and start_sk[:7] == chosen else None,
            since=since,
            until=until,
            filters=filters,
        )
        items += page
        if len(items) >= limit:
            next_cursor = encode_cursor(items[-1]["sk"]) if more or chosen != months[-1] else None
            break
    keys = _keys(svc, tenant_id)
    entries = []
    for item in items:
        rec = json.loads(item["record"])
        opened = _open(keys, IP_PURPOSE, rec["entry_id"], rec.get("ip_sealed"))
        entries.append(_entry(rec, opened.decode() if opened else None))
    return entries, next_cursor
