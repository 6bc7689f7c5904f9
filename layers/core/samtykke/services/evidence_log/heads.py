"""Which chain heads changed: every ledger write lists its contact's head in the `audience` index.

The profile item carries `gsi1pk=HEADS#{shard}` and `gsi1sk={time}#{tenant}#{contact}`, rewritten by the same
transaction that moves the head, so the checkpoint writer finds every head changed since the last checkpoint
with one Query per shard and no extra write on the capture path. Shards spread the index's write load.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

HEAD_SHARDS = 8
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so the index sorts by time


def heads_pk(shard: int) -> str:
    return f"HEADS#{shard}"


def stamp(at: datetime) -> str:
    return at.strftime(STAMP_FORMAT)


def changed_head_index(tenant_id: str, contact_id: str, at: datetime) -> dict[str, Any]:
    shard = hashlib.sha256(contact_id.encode()).digest()[0] % HEAD_SHARDS
    return {"gsi1pk": heads_pk(shard), "gsi1sk": f"{stamp(at)}#{tenant_id}#{contact_id}"}


def parse_head_key(gsi1sk: str) -> tuple[str, str]:
    """(tenant, contact) from a head's index key."""
    _, tenant_id, contact_id = gsi1sk.rsplit("#", 2)
    return tenant_id, contact_id
