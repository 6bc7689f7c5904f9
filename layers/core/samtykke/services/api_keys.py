"""Bearer API keys for server-to-server use: random, shown once, stored only as a SHA-256 hash.

A 256-bit random key needs no slow KDF: its hash cannot be brute-forced, and the lookup stays cheap.
"""

from __future__ import annotations

import hashlib
import secrets

from samtykke.domain.access import Principal, Role
from samtykke.domain.errors import Unauthorized
from samtykke.services.context import Services
from samtykke.services.ledger import new_id

KEY_PREFIX = "stk_"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_key(svc: Services, tenant_id: str, role: Role, label: str) -> tuple[str, str]:
    """A new key for the tenant: (key id, secret). The secret is never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id("key")
    svc.repo.put_api_key(
        hash_key(secret),
        {
            "tenant_id": tenant_id,
            "key_id": key_id,
            "role": role.value,
            "label": label,
            "created_at": svc.clock().isoformat(),
            "revoked": False,
        },
    )
    return key_id, secret


def authenticate(svc: Services, authorization: str | None) -> Principal:
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.startswith(KEY_PREFIX):
        raise Unauthorized("A bearer API key is required")
    item = svc.repo.get_api_key(hash_key(secret.strip()))
    if item is None or item.get("revoked"):
        raise Unauthorized("The API key is not valid")
    return Principal(
        tenant_id=item["tenant_id"], principal_id=item["key_id"], principal_type="api_key", role=Role(item["role"])
    )
