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


def first_broken_entry(
    records: Iterable[Mapping[str, Any]], *, after_seq: int = 0, after_hash: str = GENESIS_HASH
) -> int | None:
    """The `seq` of the first entry that does not verify, or is missing; None if the chain is intact.

    By default the records are a whole month (from seq 1, after `GENESIS_HASH`): then this is exactly
    `domain.ledger.first_broken_link`, plus the check that no entry is missing. A later part of a month (a day's
    file) is checked from the entry before it: `after_seq`, `after_hash` (the previous file's last line).
    """
    ordered = sorted(records, key=lambda r: int(r.get("seq", 0)))
    for expected, record in enumerate(ordered, start=after_seq + 1):
        if int(record.get("seq", 0)) != expected:  # an entry removed from the middle or the start
            return expected
    if after_seq == 0:
        return first_broken_link(ordered)
    prev = after_hash
    for record in ordered:
        if record.get("prev_hash") != prev or chain_hash(prev, record) != record.get(HASH_FIELD):
            return int(record["seq"])
        prev = str(record[HASH_FIELD])
    return None


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def verify_month(text: str) -> int | None:
    """`first_broken_entry` over one month's JSONL export."""
    return first_broken_entry(parse_jsonl(text))
