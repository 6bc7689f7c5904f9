"""Bearer API keys for server-to-server use: random, shown once, stored only as a SHA-256 hash.

A 256-bit random key needs no slow KDF: its hash cannot be brute-forced, and the lookup stays cheap.
Each key is stored twice, in one transaction: by its hash (`K#{sha256}`, what the authorizer reads) and in
the tenant's staff partition (`APIKEY#{key_id}`, for listing and revoking by id).

`authenticate` is what the Lambda authorizer calls: it takes an API key (`stk_…`) or a staff session token
(`sts_…`, `services/session_auth.py`) and returns the request's principal.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from samtykke.adapters.staff_repository import StaffRepository
from samtykke.domain.access import Permission, Principal, Role, may_assign, parse_grants
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import NotFound, Unauthorized
from samtykke.domain.sessions import is_access_token
from samtykke.services.context import Services

KEY_PREFIX = "stk_"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_key(
    svc: Services, tenant_id: str, role: Role, label: str, grants: frozenset[Permission] = frozenset()
) -> tuple[str, str]:
    """A new key for the tenant: (key id, secret). The secret is never stored."""
    # Imported here: the authorizer imports this module but never issues keys, and the ledger is costly to import.
    from samtykke.services.ledger import new_id

    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id("key")
    StaffRepository(svc.repo.table_name).create_api_key(
        hash_key(secret),
        {
            "tenant_id": tenant_id,
            "key_id": key_id,
            "role": role.value,
            "grants": sorted(g.value for g in grants),
            "label": label,
            "created_at": svc.clock().isoformat(),
            "revoked": False,
        },
    )
    return key_id, secret


def create_api_key(
    svc: Services, actor: Principal, role: Role, label: str, grants: frozenset[Permission], *, ip: str | None
) -> dict[str, Any]:
    """A key made through the admin API: never with a role or grant above the actor's own."""
    from samtykke.services import audit
    from samtykke.services.staff import RoleNotAllowed

    if not may_assign(actor, role, grants):
        raise RoleNotAllowed("You may not give a role or grant above your own")
    key_id, secret = issue_api_key(svc, actor.tenant_id, role, label, grants)
    audit.record(svc, actor, AuditAction.API_KEY_CREATED, ("api_key", key_id), ip, {"role": role.value})
    item = next(k for k in list_api_keys(svc, actor.tenant_id) if k["key_id"] == key_id)
    return {**item, "secret": secret}


def list_api_keys(svc: Services, tenant_id: str) -> list[dict[str, Any]]:
    fields = ("key_id", "role", "label", "grants", "created_at", "revoked", "revoked_at")
    return [{f: k.get(f) for f in fields} for k in StaffRepository(svc.repo.table_name).list_api_keys(tenant_id)]


def revoke_api_key(svc: Services, actor: Principal, key_id: str, *, ip: str | None) -> dict[str, Any]:
    from samtykke.services import audit
    from samtykke.services.staff import RoleNotAllowed

    repo = StaffRepository(svc.repo.table_name)
    existing = next((k for k in repo.list_api_keys(actor.tenant_id) if k["key_id"] == key_id), None)
    if existing is None:
        raise ApiKeyNotFound("No such API key")
    if not may_assign(actor, Role(existing["role"]), frozenset()):
        raise RoleNotAllowed("You may not revoke a key above your own role")
    if not existing.get("revoked"):
        repo.revoke_api_key(actor.tenant_id, key_id, svc.clock().isoformat())
        audit.record(svc, actor, AuditAction.API_KEY_REVOKED, ("api_key", key_id), ip)
    return next(k for k in list_api_keys(svc, actor.tenant_id) if k["key_id"] == key_id)


def authenticate(svc: Services, authorization: str | None) -> Principal:
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer":
        raise Unauthorized("A bearer API key or session token is required")
    if is_access_token(secret):
        from samtykke.services.session_auth import authenticate_session

        return authenticate_session(svc, secret)
    if not secret.startswith(KEY_PREFIX):
        raise Unauthorized("A bearer API key or session token is required")
    item = svc.repo.get_api_key(hash_key(secret))
    if item is None or item.get("revoked"):
        raise Unauthorized("The API key is not valid")
    return Principal(
        tenant_id=item["tenant_id"],
        principal_id=item["key_id"],
        principal_type="api_key",
        role=Role(item["role"]),
        grants=parse_grants(item.get("grants") or []),
    )
