"""Checking a consent log, or one receipt, against its head and the signed checkpoints that anchor it.

A chain that verifies on its own proves little: whoever can write the table can delete its tail or recompute
every hash. So the log is compared three ways: each event with the one before it (the hash chain), the last
event with the contact's stored head, and the chain with every signed checkpoint that covered the contact.
A checkpoint is signed and kept where no one can change it, so a deleted tail, a deleted or back-dated event
and a recomputed chain all disagree with it. Each problem names the first sequence number it puts in doubt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from samtykke.domain.evidence.checkpoint import Head, included, signature_valid
from samtykke.domain.ledger import GENESIS_HASH, HASH_FIELD, canonical_json, chain_hash

# Export-only fields of an event: the stored record is the event without them, its evidence still sealed.
EXPORT_ONLY_FIELDS = frozenset({"evidence", "evidence_sealed", "evidence_files", "receipt"})


@dataclass(frozen=True)
class Problem:
    code: str
    seq: int
    message: str


@dataclass
class Verdict:
    problems: list[Problem] = field(default_factory=list)
    anchors_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        return min((p.seq for p in self.problems), default=None)

    def add(self, code: str, seq: int, message: str) -> None:
        self.problems.append(Problem(code, seq, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "first_bad_seq": self.first_bad_seq,
            "anchors_checked": self.anchors_checked,
            "problems": [{"code": p.code, "seq": p.seq, "message": p.message} for p in self.problems],
        }


def stored_record(exported_event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as stored and hashed: export-only fields dropped, the evidence back in its sealed form."""
    record = {k: v for k, v in exported_event.items() if k not in EXPORT_ONLY_FIELDS}
    if exported_event.get("evidence_sealed"):
        record["evidence"] = exported_event["evidence_sealed"]
    return record


def exported_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event as exports and receipts carry it: its sealed evidence under `evidence_sealed`."""
    exported = {k: v for k, v in record.items() if k != "evidence"}
    if record.get("evidence"):
        exported["evidence_sealed"] = record["evidence"]
    return exported


def _check_chain(records: Sequence[Mapping[str, Any]], verdict: Verdict) -> None:
    prev = GENESIS_HASH
    for expected_seq, record in enumerate(records, start=1):
        seq = int(record.get("seq", expected_seq))
        if seq != expected_seq:
            verdict.add("sequence_gap", expected_seq, f"event {expected_seq} is missing (found {seq} in its place)")
            return
        if record.get("prev_hash") != prev or chain_hash(prev, record) != record.get(HASH_FIELD):
            verdict.add("hash_mismatch", seq, f"event {seq} does not hash to its recorded hash and predecessor")
            return
        prev = str(record[HASH_FIELD])


def _check_head(records: Sequence[Mapping[str, Any]], head: Mapping[str, Any], verdict: Verdict) -> None:
    last_seq = int(records[-1]["seq"]) if records else 0
    last_hash = str(records[-1][HASH_FIELD]) if records else GENESIS_HASH
    head_seq = int(head.get("seq") or 0)
    if head_seq > last_seq:
        verdict.add("tail_missing", last_seq + 1, f"the head is at {head_seq} but the log ends at {last_seq}")
    elif head_seq < last_seq:
        verdict.add("head_behind", head_seq + 1, f"the log runs to {last_seq} past its head at {head_seq}")
    elif head.get("last_hash") != last_hash:
        verdict.add("head_mismatch", max(last_seq, 1), "the head's hash is not the last event's hash")


def check_anchor(
    anchor: Mapping[str, Any], public_key_pem: bytes, tenant_id: str, contact_id: str, verdict: Verdict
) -> Head | None:
    """The head a checkpoint anchors, if its signature and inclusion proof hold; else a problem and None."""
    verdict.anchors_checked += 1
    leaf = Head.from_dict(anchor["leaf"])
    checkpoint = anchor["checkpoint"]
    statement_bytes = str(checkpoint["statement"]).encode()
    signed = json.loads(statement_bytes)
    if canonical_json(signed) != statement_bytes or not signature_valid(
        public_key_pem, statement_bytes, str(checkpoint["signature"])
    ):
        verdict.add("bad_signature", leaf.seq, f"checkpoint {signed.get('checkpoint_id')} is not validly signed")
        return None
    if (leaf.tenant_id, leaf.contact_id) != (tenant_id, contact_id):
        verdict.add("wrong_contact", leaf.seq, "the anchor is for another contact")
        return None
    if not included(
        leaf, int(anchor["leaf_index"]), int(signed["tree_size"]), anchor["audit_path"], signed["root_hash"]
    ):
        verdict.add("not_included", leaf.seq, f"the head is not in checkpoint {signed['checkpoint_id']}")
        return None
    return leaf


def verify_log(
    tenant_id: str,
    contact_id: str,
    records: Sequence[Mapping[str, Any]],
    head: Mapping[str, Any],
    anchors: Sequence[Mapping[str, Any]],
    public_key_pem: bytes,
) -> Verdict:
    """Checks a contact's stored records (oldest first) against each other, its head and its anchors."""
    verdict = Verdict()
    _check_chain(records, verdict)
    _check_head(records, head, verdict)
    anchored = [
        leaf for anchor in anchors if (leaf := check_anchor(anchor, public_key_pem, tenant_id, contact_id, verdict))
    ]
    by_seq = {int(r["seq"]): r for r in records}
    matched = 0  # the highest anchored sequence number the log still agrees with
    for leaf in sorted(anchored, key=lambda h: h.seq):
        record = by_seq.get(leaf.seq)
        if record is None:
            verdict.add(
                "anchored_event_missing", min(leaf.seq, len(records) + 1), f"event {leaf.seq} was anchored and is gone"
            )
        elif record.get(HASH_FIELD) != leaf.head:
            verdict.add("rewritten", matched + 1, f"events {matched + 1}..{leaf.seq} differ from what was anchored")
        else:
            matched = leaf.seq
    return verdict


def verify_export(document: Mapping[str, Any], public_key_pem: bytes) -> Verdict:
    """Checks a DSAR export (docs/rights.md) offline."""
    contact = document["contact"]
    records = [stored_record(event) for event in document.get("events", [])]
    return verify_log(
        document["tenant"]["tenant_id"],
        contact["contact_id"],
        records,
        contact.get("log_head") or {},
        document.get("anchors", []),
        public_key_pem,
    )


def verify_receipt(receipt: Mapping[str, Any], public_key_pem: bytes) -> Verdict:
    """Checks a consent receipt: its event's hash, and, when it has one, its proof up to a signed checkpoint."""
    verdict = Verdict()
    event = stored_record(receipt["event"])
    seq = int(event["seq"])
    if chain_hash(str(event["prev_hash"]), event) != event.get(HASH_FIELD) or event.get(HASH_FIELD) != receipt.get(
        "event_hash"
    ):
        verdict.add("hash_mismatch", seq, "the receipt's event does not hash to the receipt's event hash")
        return verdict
    if (
        receipt.get("subject", {}).get("id") != event["contact_id"]
        or receipt.get("purpose", {}).get("id") != event["purpose"]
    ):
        verdict.add("receipt_mismatch", seq, "the receipt's subject or purpose is not the event's")
    notice = receipt.get("notice") or {}
    if notice.get("text") is not None and hashlib.sha256(str(notice["text"]).encode()).hexdigest() != (
        (event.get("text") or {}).get("sha256")
    ):
        verdict.add("notice_mismatch", seq, "the notice text is not the one whose SHA-256 the event recorded")
    proof = receipt.get("proof")
    if not proof:
        return verdict
    tenant_id = str(receipt.get("controller", {}).get("id"))
    leaf = check_anchor(proof, public_key_pem, tenant_id, str(event["contact_id"]), verdict)
    if leaf is None:
        return verdict
    prev = str(event[HASH_FIELD])
    last_seq = seq
    for raw in proof.get("chain", []):
        record = stored_record(raw)
        if record.get("prev_hash") != prev or chain_hash(prev, record) != record.get(HASH_FIELD):
            verdict.add("hash_mismatch", int(record["seq"]), "the proof's chain does not link up")
            return verdict
        prev, last_seq = str(record[HASH_FIELD]), int(record["seq"])
    if (last_seq, prev) != (leaf.seq, leaf.head):
        verdict.add("rewritten", seq, "the chain from the event does not lead to the anchored head")
    return verdict
