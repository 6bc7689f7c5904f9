"""The pure evidence rules: RFC 9162 Merkle trees, signed checkpoints, and verifying a log against its anchors."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from samtykke.domain.evidence.checkpoint import Head, Tree, included, signature_valid, statement
from samtykke.domain.evidence.merkle import inclusion_path, leaf_hash, node_hash, root_from_path, root_hash
from samtykke.domain.evidence.receipt import build_receipt, proof_for
from samtykke.domain.evidence.verify import verify_log, verify_receipt
from samtykke.domain.ledger import GENESIS_HASH, chain_hash

pytestmark = pytest.mark.unit


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 written out literally, as an independent oracle."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:])).digest()


class TestMerkle:
    def test_roots_match_the_rfc_definition_for_every_size_up_to_33(self) -> None:
        for n in range(34):
            data = [f"leaf {i}".encode() for i in range(n)]
            assert root_hash([leaf_hash(d) for d in data]) == _reference_root(data)

    def test_every_inclusion_proof_verifies_and_no_other_leaf_passes(self) -> None:
        for n in range(1, 20):
            hashes_ = [leaf_hash(f"{i}".encode()) for i in range(n)]
            root = root_hash(hashes_)
            for index in range(n):
                path = inclusion_path(index, hashes_)
                assert root_from_path(index, n, hashes_[index], path) == root
                assert root_from_path(index, n, leaf_hash(b"forged"), path) != root
                if n > 1:
                    assert root_from_path((index + 1) % n, n, hashes_[index], path) != root

    def test_a_leaf_can_never_pass_for_an_interior_node(self) -> None:
        a, b = leaf_hash(b"a"), leaf_hash(b"b")
        assert root_hash([a, b]) == node_hash(a, b) != leaf_hash(a + b)

    def test_a_path_of_the_wrong_length_proves_nothing(self) -> None:
        hashes_ = [leaf_hash(bytes([i])) for i in range(5)]
        path = inclusion_path(2, hashes_)
        assert root_from_path(2, 5, hashes_[2], path[:-1]) is None
        assert root_from_path(2, 5, hashes_[2], [*path, path[0]]) is None
        assert root_from_path(7, 5, hashes_[2], path) is None


# --- a contact's log, its anchors and receipts -------------------------------------------------------------

KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _log(n: int) -> list[dict[str, Any]]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        record = {
            "event_id": f"evt_{seq}",
            "contact_id": "con_1",
            "seq": seq,
            "type": "grant",
            "purpose": "news",
            "channel": "email",
            "status": "granted",
            "legal_basis": "consent",
            "source": "web-form",
            "actor": {"type": "contact"},
            "at": f"2026-12-0{seq}T10:00:00+00:00",
            "evidence": base64.b64encode(f"sealed {seq}".encode()).decode(),
            "prev_hash": prev,
        }
        record["hash"] = prev = chain_hash(prev, record)
        records.append(record)
    return records


def _anchor(head: Head, others: int = 4, key: ec.EllipticCurvePrivateKey = KEY) -> dict[str, Any]:
    tree = Tree.of([head, *(Head("acme", f"con_x{i}", 1, "ab" * 32) for i in range(others))])
    signed = statement(
        checkpoint_id="ckp_1",
        issued_at="2026-12-09T00:00:00+00:00",
        tree=tree,
        previous_sha256="0" * 64,
        key_id="k",
        since="0000",
        until="2026-12-09",
    )
    signature = base64.b64encode(key.sign(signed, ec.ECDSA(hashes.SHA256()))).decode()
    index = tree.heads.index(head)
    return {
        "checkpoint": {"statement": signed.decode(), "signature": signature},
        "leaf": {"tenant_id": head.tenant_id, "contact_id": head.contact_id, "seq": head.seq, "head": head.head},
        "leaf_index": index,
        "audit_path": tree.proof(index),
    }


def _head_of(records: list[dict[str, Any]], seq: int) -> Head:
    return Head("acme", "con_1", seq, records[seq - 1]["hash"])


def _verify(records: list[dict[str, Any]], head: dict[str, Any], anchors: list[dict[str, Any]]) -> Any:
    return verify_log("acme", "con_1", records, head, anchors, PUBLIC_PEM)


class TestVerifyLog:
    def test_an_untouched_log_verifies_against_its_head_and_anchors(self) -> None:
        log = _log(5)
        verdict = _verify(
            log, {"seq": 5, "last_hash": log[-1]["hash"]}, [_anchor(_head_of(log, 3)), _anchor(_head_of(log, 5))]
        )
        assert verdict.ok
        assert verdict.anchors_checked == 2

    def test_a_deleted_tail_with_its_head_rewound_is_caught_by_the_anchor(self) -> None:
        log = _log(5)
        anchors = [_anchor(_head_of(log, 5))]
        tampered = log[:3]  # the withdrawal at 4 and 5 deleted, and the head moved back to match
        verdict = _verify(tampered, {"seq": 3, "last_hash": tampered[-1]["hash"]}, anchors)
        assert not verdict.ok
        assert verdict.first_bad_seq == 4
        assert [p.code for p in verdict.problems] == ["anchored_event_missing"]

    def test_a_deleted_tail_with_the_head_left_is_caught_by_the_head(self) -> None:
        log = _log(5)
        verdict = _verify(log[:3], {"seq": 5, "last_hash": log[-1]["hash"]}, [])
        assert verdict.first_bad_seq == 4
        assert verdict.problems[0].code == "tail_missing"

    def test_a_recomputed_chain_is_caught_naming_the_first_seq_after_the_last_good_anchor(self) -> None:
        log = _log(6)
        anchors = [_anchor(_head_of(log, 2)), _anchor(_head_of(log, 6))]
        # Back-date event 4 and recompute every hash from there, head included: the chain itself verifies
        forged, prev = [dict(r) for r in log[:3]], log[2]["hash"]
        for record in log[3:]:
            record = {**record, "prev_hash": prev}
            if record["seq"] == 4:
                record["at"] = "2025-01-01T00:00:00+00:00"
            record["hash"] = prev = chain_hash(prev, record)
            forged.append(record)
        verdict = _verify(forged, {"seq": 6, "last_hash": forged[-1]["hash"]}, anchors)
        assert [p.code for p in verdict.problems] == ["rewritten"]
        assert verdict.first_bad_seq == 3

    def test_an_edited_event_breaks_the_chain_at_that_event(self) -> None:
        log = _log(4)
        log[1] = {**log[1], "status": "withdrawn"}
        verdict = _verify(log, {"seq": 4, "last_hash": log[-1]["hash"]}, [])
        assert verdict.first_bad_seq == 2
        assert verdict.problems[0].code == "hash_mismatch"

    def test_an_anchor_signed_by_another_key_or_altered_counts_for_nothing(self) -> None:
        log = _log(2)
        head = {"seq": 2, "last_hash": log[-1]["hash"]}
        stranger = _anchor(_head_of(log, 2), key=ec.generate_private_key(ec.SECP256R1()))
        assert [p.code for p in _verify(log, head, [stranger]).problems] == ["bad_signature"]
        altered = _anchor(_head_of(log, 2))
        altered["checkpoint"]["statement"] = altered["checkpoint"]["statement"].replace(
            '"tree_size":5', '"tree_size":6'
        )
        assert [p.code for p in _verify(log, head, [altered]).problems] == ["bad_signature"]
        moved = _anchor(_head_of(log, 2))
        moved["leaf_index"] = (moved["leaf_index"] + 1) % 5
        assert [p.code for p in _verify(log, head, [moved]).problems] == ["not_included"]

    def test_the_signature_is_plain_ecdsa_p256_over_sha256_of_the_statement(self) -> None:
        anchor = _anchor(_head_of(_log(1), 1))
        statement_bytes = anchor["checkpoint"]["statement"].encode()
        assert signature_valid(PUBLIC_PEM, statement_bytes, anchor["checkpoint"]["signature"])
        assert not signature_valid(PUBLIC_PEM, statement_bytes + b" ", anchor["checkpoint"]["signature"])
        leaf = Head.from_dict(anchor["leaf"])
        assert included(leaf, anchor["leaf_index"], 5, anchor["audit_path"], Tree.of([]).root()) is False


NOTICE = "Yes, send me the newsletter."
NOTICE_REF = {"purpose_id": "news", "locale": "en", "version": 1, "sha256": hashlib.sha256(NOTICE.encode()).hexdigest()}


class TestReceipts:
    def _log(self, n: int) -> list[dict[str, Any]]:
        records, prev = [], GENESIS_HASH
        for record in _log(n):
            record = {**record, "text": NOTICE_REF, "prev_hash": prev}
            record["hash"] = prev = chain_hash(prev, record)
            records.append(record)
        return records

    def _receipt(self, log: list[dict[str, Any]], seq: int, anchors: list[dict[str, Any]]) -> dict[str, Any]:
        return build_receipt(
            log[seq - 1],
            controller={"id": "acme", "name": "Acme", "country": "DK"},
            purpose_name="News",
            legal_basis_label="Consent",
            notice_text=NOTICE,
            proof=proof_for(seq, anchors, log),
        )

    def test_a_receipt_carries_the_iso_27560_fields_and_verifies_up_to_its_checkpoint(self) -> None:
        log = self._log(3)
        receipt = self._receipt(log, 1, [_anchor(_head_of(log, 3))])
        assert {
            "receipt_id",
            "timestamp",
            "controller",
            "subject",
            "purpose",
            "notice",
            "collection",
            "jurisdiction",
            "withdrawal",
            "event_hash",
            "proof",
        } <= set(receipt)
        assert [r["seq"] for r in receipt["proof"]["chain"]] == [2, 3]
        assert verify_receipt(receipt, PUBLIC_PEM).ok

    def test_a_receipt_with_an_altered_event_notice_or_chain_fails(self) -> None:
        log = self._log(3)
        unanchored = self._receipt(log, 3, [])
        assert "proof" not in unanchored
        assert verify_receipt(unanchored, PUBLIC_PEM).ok
        altered = {**unanchored, "event": {**log[2], "status": "withdrawn"}}
        assert verify_receipt(altered, PUBLIC_PEM).problems[0].code == "hash_mismatch"
        reworded = {**unanchored, "notice": {**unanchored["notice"], "text": "Yes, sell my data."}}
        assert verify_receipt(reworded, PUBLIC_PEM).problems[0].code == "notice_mismatch"
        anchored = self._receipt(log, 1, [_anchor(_head_of(log, 3))])
        anchored["proof"]["chain"] = anchored["proof"]["chain"][:1]  # a link left out
        assert verify_receipt(anchored, PUBLIC_PEM).problems[0].code == "rewritten"
