"""The consent log's hash chain.

Each event's hash covers its stored record and the previous event's hash, so editing, removing or
reordering any event breaks every hash after it. Evidence is hashed in its encrypted form: the chain
still verifies after erasure has crypto-shredded the evidence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

GENESIS_HASH = "0" * 64
HASH_FIELD = "hash"


def canonical_json(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def chain_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != HASH_FIELD}
    return hashlib.sha256(prev_hash.encode() + canonical_json(body)).hexdigest()


def first_broken_link(records: Iterable[Mapping[str, Any]]) -> int | None:
    """The sequence number of the first event whose hash does not verify, or None if the chain is intact."""
    prev = GENESIS_HASH
    for record in records:
        if record.get("prev_hash") != prev or chain_hash(prev, record) != record.get(HASH_FIELD):
            return int(record["seq"])
        prev = str(record[HASH_FIELD])
    return None
