"""The audit log: append-only, per tenant, queryable by month. Other capabilities call `record`.

    from samtykke.services import audit
    audit.record(svc, principal, audit.AuditAction.CONTACT_EXPORTED, target=("contact", contact_id), ip=ip)

- `actor`: the request's `Principal` (staff user or API key), or an `AuditActor` for a system actor.
- `action`: an `AuditAction`, or your own stable `area.verb` string.
- `target`: `(type, id)`, e.g. `("contact", "con_...")`, or None.
- `ip`: the client IP (`client_ip(event)`), or None. Stored sealed with a tenant key, never in clear.
- `details`: small, non-sensitive facts (`{"from": "editor", "to": "admin"}`). Values under keys such as
  `email`, `phone`, `national_id`, `password`, `token`, `code` are dropped, and anything that looks like an
  email address is masked, so a careless caller cannot put the sensitive value in the log.

Entries live at `pk=T#{tenant}#AUDIT#{yyyy-mm}`, `sk={iso time}#{random}`: a month is one partition, read newest
first. There is no update or delete path. `record` raises on failure (e.g. 503 `throttled`): call it BEFORE
returning sensitive data, and after a change commits.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.staff_repository import StaffRepository, audit_pk
from samtykke.domain.access import Principal
from samtykke.domain.audit import AuditAction, clean_details
from samtykke.services.context import Services

__all__ = ["AuditAction", "AuditActor", "client_ip", "query", "record"]

MAX_PAGE = 200


@dataclass(frozen=True)
class AuditActor:
    """An actor that is not a request's principal: `type` is `staff`, `api_key`, `system` or `anonymous`."""

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


def _ip_box(keys: TenantKeys) -> AESGCM:
    return AESGCM(keys.signing_key("audit-ip-seal"))


def _seal_ip(keys: TenantKeys, entry_id: str, ip: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + _ip_box(keys).encrypt(nonce, ip.encode(), f"{keys.tenant_id}|{entry_id}".encode())


def _open_ip(keys: TenantKeys, entry_id: str, sealed: bytes | None) -> str | None:
    if not sealed:
        return None
    try:
        return _ip_box(keys).decrypt(sealed[:12], sealed[12:], f"{keys.tenant_id}|{entry_id}".encode()).decode()
    except (InvalidTag, ValueError):
        return None


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
) -> dict[str, Any]:
    """Appends one entry to the actor's tenant's audit log and returns it (as `query` would)."""
    tenant_id, actor_fields = _actor_of(actor)
    at: datetime = svc.clock()
    month = at.strftime("%Y-%m")
    entry_id = f"{at.isoformat(timespec='milliseconds')}#{secrets.token_hex(6)}"
    item: dict[str, Any] = {
        "pk": audit_pk(tenant_id, month),
        "sk": entry_id,
        "action": str(action),
        "at": at.isoformat(),
        "actor_type": actor_fields["type"],
        "actor_id": actor_fields["id"],
        "actor_role": actor_fields["role"],
        "target_type": target[0] if target else None,
        "target_id": target[1] if target else None,
        "details": clean_details(details),
    }
    if ip:
        item["ip_sealed"] = _seal_ip(_keys(svc, tenant_id), entry_id, ip)
    StaffRepository(svc.repo.table_name).put_audit(item)
    return _entry(item, ip)


def _entry(item: dict[str, Any], ip: str | None) -> dict[str, Any]:
    return {
        "entry_id": f"{item['pk'].rsplit('#', 1)[-1]}/{item['sk']}",
        "at": item["at"],
        "action": item["action"],
        "actor": {"type": item.get("actor_type"), "id": item.get("actor_id"), "role": item.get("actor_role")},
        "target": {"type": item["target_type"], "id": item.get("target_id")} if item.get("target_type") else None,
        "ip": ip,
        "details": item.get("details") or {},
    }


def query(
    svc: Services,
    tenant_id: str,
    month: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    target_id: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the tenant's entries for `month` (`yyyy-mm`), newest first, and the next page's cursor."""
    filters = {
        name: value
        for name, value in (("action", action), ("actor_id", actor_id), ("target_id", target_id))
        if value is not None
    }
    items, next_cursor = StaffRepository(svc.repo.table_name).query_audit(
        tenant_id, month, limit=max(1, min(limit, MAX_PAGE)), cursor=cursor, filters=filters
    )
    keys = _keys(svc, tenant_id) if any(i.get("ip_sealed") for i in items) else None
    entries = [_entry(i, _open_ip(keys, i["sk"], i.get("ip_sealed")) if keys is not None else None) for i in items]
    return entries, next_cursor
