"""The deployment's operator: keys for the operator API (`/v1/operator/...`), separate from every tenant's.

An operator key (`sko_…`) is random, shown once, and stored only as its SHA-256 hash, in the `OPERATOR` partition:
outside every tenant's partition and outside the tenant API keys' `K#…`. Keys are made and revoked only with the
deployment's AWS credentials (`samtykke operator key create|revoke`, straight to DynamoDB); no HTTP route makes one.
The operator API's function authenticates its own bearer (`authenticate_operator`) and is the only function that
reads this partition: the tenant authorizer can neither read an operator key nor be given one, and the operator
API never looks a tenant credential up, so no staff session or API key of any role reaches it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from samtykke.adapters.staff_repository import StaffRepository
from samtykke.domain.errors import NotFound, Unauthorized
from samtykke.services.api_keys import hash_key
from samtykke.services.audit import AuditActor
from samtykke.services.context import Services

OPERATOR_KEY_PREFIX = "sko_"
OPERATOR_PK = "OPERATOR"
KEY = "KEY#"
OPERATOR_ACTOR = "operator"  # the audit entry's actor type


class OperatorKeyNotFound(NotFound):
    code = "operator_key_not_found"


class OperatorCredentialRequired(Unauthorized):
    code = "operator_credential_required"


@dataclass(frozen=True)
class Operator:
    key_id: str
    name: str

    def actor(self, tenant_id: str) -> AuditActor:
        return AuditActor(tenant_id, OPERATOR_ACTOR, self.name)


def _repo(svc: Services) -> StaffRepository:
    return StaffRepository(svc.repo.table_name)


def issue_operator_key(svc: Services, name: str) -> tuple[str, str]:
    """A new operator key for `name` (who holds it, for the audit log): (key id, secret). Never over HTTP."""
    from samtykke.services.ledger import new_id

    secret = OPERATOR_KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id("opk")
    item = {"key_id": key_id, "name": name, "created_at": svc.clock().isoformat(), "revoked": False}
    _repo(svc).put_new({"pk": OPERATOR_PK, "sk": KEY + hash_key(secret), **item})
    return key_id, secret


def list_operator_keys(svc: Services) -> list[dict[str, Any]]:
    fields = ("key_id", "name", "created_at", "revoked", "revoked_at")
    return [{f: k.get(f) for f in fields} for k in _repo(svc).query(OPERATOR_PK, prefix=KEY)]


def revoke_operator_key(svc: Services, key_id: str) -> dict[str, Any]:
    """Revokes the key (idempotent); the next request with it gets 401."""
    repo = _repo(svc)
    item = next((k for k in repo.query(OPERATOR_PK, prefix=KEY) if k.get("key_id") == key_id), None)
    if item is None:
        raise OperatorKeyNotFound("No operator key with this id")
    if not item.get("revoked"):
        at = svc.clock().isoformat()
        repo.update(OPERATOR_PK, item["sk"], set_={"revoked": True, "revoked_at": at}, condition="attribute_exists(pk)")
        item = {**item, "revoked": True, "revoked_at": at}
    return {f: item.get(f) for f in ("key_id", "name", "created_at", "revoked", "revoked_at")}


def authenticate_operator(svc: Services, authorization: str | None) -> Operator:
    """The operator behind a `Bearer sko_…` header. A tenant's API key or session token is refused unread."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(OPERATOR_KEY_PREFIX):
        raise OperatorCredentialRequired(
            "The operator API takes only an operator key (Bearer sko_…): no tenant credential reaches it"
        )
    item = _repo(svc).get(OPERATOR_PK, KEY + hash_key(secret))
    if item is None or item.get("revoked"):
        raise Unauthorized("Unknown or revoked operator key", code="invalid_operator_key")
    return Operator(key_id=str(item["key_id"]), name=str(item["name"]))
