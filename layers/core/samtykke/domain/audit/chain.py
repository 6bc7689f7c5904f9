"""The audit log's hash chain: one chain per tenant and month, checked like the consent log's.

Each entry is stored as one canonical JSON record (the line the JSONL export writes). Its `hash` is
`domain.ledger.chain_hash(prev_hash, record)`, so `domain.ledger.first_broken_link` verifies a month of entries
exactly as it verifies a contact's consent events: sort by `seq`, start from `GENESIS_HASH`. Anyone holding the
export can check it with nothing but SHA-256 and the record format (docs/staff-and-audit.md). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from samtykke.domain.ledger import GENESIS_HASH, HASH_FIELD, canonical_json, chain_hash, first_broken_link

__all__ = ["GENESIS_HASH", "first_broken_entry", "parse_jsonl", "seal_record", "verify_month"]


def seal_record(record: Mapping[str, Any], *, seq: int, prev_hash: str) -> dict[str, Any]:
    """The record with its place in the chain (`seq`, `prev_hash`) and its `hash`."""
    body = {k: v for k, v in record.items() if k != HASH_FIELD} | {"seq": seq, "prev_hash": prev_hash}
    return body | {HASH_FIELD: chain_hash(prev_hash, body)}


def serialise(record: Mapping[str, Any]) -> str:
    return canonical_json(record).decode()


def first_broken_entry(records: Iterable[Mapping[str, Any]]) -> int | None:
    """The `seq` of the first entry that does not verify (or a gap), or None if the month's chain is intact."""
    ordered = sorted(records, key=lambda r: int(r.get("seq", 0)))
    for expected, record in enumerate(ordered, start=1):
        if int(record.get("seq", 0)) != expected:  # an entry removed from the middle or the start
            return expected
    return first_broken_link(ordered)


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def verify_month(text: str) -> int | None:
    """`first_broken_entry` over one month's JSONL export."""
    return first_broken_entry(parse_jsonl(text))
