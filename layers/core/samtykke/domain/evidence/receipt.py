"""Consent receipts: one JSON document per grant, confirmation, withdrawal or import, with the fields of
ISO/IEC TS 27560 and the Kantara Consent Receipt v1.1, the event's hash, and once a checkpoint covers the event,
the proof that ties it to that signed checkpoint (`samtykke.domain.evidence.verify.verify_receipt` checks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from samtykke.domain.evidence.verify import exported_record

RECEIPT_FORMAT = "samtykke-receipt/1"
SPECIFICATIONS = ("ISO/IEC TS 27560:2023", "Kantara Consent Receipt v1.1")
RECEIPT_EVENT_TYPES = frozenset({"grant", "confirm", "withdraw", "import"})
COLLECTION_METHODS = {
    "contact": "by the data subject",
    "staff": "recorded by the controller's staff",
    "api_key": "recorded by the controller's system",
    "system": "recorded by samtykke",
    "sms_provider": "by the data subject's SMS reply, relayed by the SMS provider",
}
WITHDRAWAL_METHODS = (
    "the unsubscribe link in every marketing email (RFC 8058 one-click)",
    "replying STOP to any marketing SMS",
    "the preference centre linked from every email",
)


def proof_for(
    seq: int, anchors: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The earliest anchor at or after event `seq`, with the records that lead from the event to its head."""
    covering = [a for a in anchors if int(a["leaf"]["seq"]) >= seq]
    if not covering:
        return None
    anchor = min(covering, key=lambda a: int(a["leaf"]["seq"]))
    head_seq = int(anchor["leaf"]["seq"])
    chain = [exported_record(r) for r in records if seq < int(r["seq"]) <= head_seq]
    return {**anchor, "chain": chain}


def build_receipt(
    record: Mapping[str, Any],
    *,
    controller: Mapping[str, Any],
    purpose_name: str,
    legal_basis_label: str,
    notice_text: str | None,
    proof: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The receipt for one stored event `record`; its evidence stays sealed (under `event.evidence_sealed`)."""
    text = record.get("text") or {}
    actor = record.get("actor") or {}
    receipt: dict[str, Any] = {
        "receipt_format": RECEIPT_FORMAT,
        "specifications": list(SPECIFICATIONS),
        "receipt_id": f"rcp_{record['event_id']}",
        "timestamp": record["at"],
        "jurisdiction": controller.get("country"),
        "controller": {
            "id": controller["id"],
            "name": controller["name"],
            "privacy_policy": {
                "url": controller.get("privacy_policy_url"),
                "version": controller.get("privacy_policy_version"),
            },
        },
        "subject": {"id": record["contact_id"], "id_type": "pseudonymous contact id"},
        "purpose": {
            "id": record["purpose"],
            "name": purpose_name,
            "channel": record["channel"],
            "legal_basis": record["legal_basis"],
            "legal_basis_label": legal_basis_label,
        },
        "event": exported_record(record),
        "event_type": record["type"],
        "status": record["status"],
        "notice": {
            "locale": text.get("locale"),
            "version": text.get("version"),
            "sha256": text.get("sha256"),
            "text": notice_text,
        },
        "collection": {
            "method": COLLECTION_METHODS.get(str(actor.get("type")), str(actor.get("type"))),
            "source": record["source"],
            "declaration_id": record.get("declaration_id"),
        },
        "withdrawal": {"methods": list(WITHDRAWAL_METHODS)},
        "event_hash": record["hash"],
    }
    if proof is not None:
        receipt["proof"] = dict(proof)
    return receipt
