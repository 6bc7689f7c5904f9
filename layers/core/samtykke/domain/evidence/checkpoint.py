"""Signed checkpoints: what a checkpoint says, the leaves it covers, and how its signature is checked.

A checkpoint's statement is canonical JSON (sorted keys, no spaces, UTF-8). Its signature is ECDSA P-256 over
SHA-256 of exactly those bytes, DER-encoded, so `openssl dgst -sha256 -verify key.pem -signature sig.der` checks it.
Each leaf is one contact's chain head: `{"contact_id", "head", "seq", "tenant_id"}`, also canonical JSON.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from samtykke.domain.evidence.merkle import inclusion_path, leaf_hash, root_from_path, root_hash
from samtykke.domain.ledger import canonical_json

CHECKPOINT_FORMAT = "samtykke-checkpoint/1"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
GENESIS_CHECKPOINT = "0" * 64


@dataclass(frozen=True, order=True)
class Head:
    """One contact's chain head as a checkpoint anchors it."""

    tenant_id: str
    contact_id: str
    seq: int
    head: str

    def leaf_bytes(self) -> bytes:
        return canonical_json(
            {"tenant_id": self.tenant_id, "contact_id": self.contact_id, "seq": self.seq, "head": self.head}
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Head:
        return cls(str(raw["tenant_id"]), str(raw["contact_id"]), int(raw["seq"]), str(raw["head"]))


@dataclass(frozen=True)
class Tree:
    """The heads of one checkpoint, in leaf order (sorted), and their tree."""

    heads: tuple[Head, ...]

    @classmethod
    def of(cls, heads: Iterable[Head]) -> Tree:
        return cls(tuple(sorted(set(heads))))

    def leaf_hashes(self) -> list[bytes]:
        return [leaf_hash(h.leaf_bytes()) for h in self.heads]

    def root(self) -> str:
        return root_hash(self.leaf_hashes()).hex()

    def proof(self, index: int) -> list[str]:
        return [node.hex() for node in inclusion_path(index, self.leaf_hashes())]


def statement(
    *, checkpoint_id: str, issued_at: str, tree: Tree, previous_sha256: str, key_id: str, since: str, until: str
) -> bytes:
    """The bytes that get signed. `previous_sha256` is the SHA-256 of the previous checkpoint's statement."""
    return canonical_json(
        {
            "format": CHECKPOINT_FORMAT,
            "checkpoint_id": checkpoint_id,
            "issued_at": issued_at,
            "heads_changed_since": since,
            "heads_changed_until": until,
            "tree_size": len(tree.heads),
            "root_hash": tree.root(),
            "previous_sha256": previous_sha256,
            "signing_key_id": key_id,
            "signing_algorithm": SIGNING_ALGORITHM,
        }
    )


def statement_sha256(statement_bytes: bytes) -> str:
    return hashlib.sha256(statement_bytes).hexdigest()


def signature_valid(public_key_pem: bytes, statement_bytes: bytes, signature_b64: str) -> bool:
    """ECDSA P-256 / SHA-256 over the statement, the DER signature base64-encoded."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("The checkpoint key must be an ECC NIST P-256 public key")
    try:
        key.verify(base64.b64decode(signature_b64), statement_bytes, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def included(head: Head, leaf_index: int, tree_size: int, path: Sequence[str], root_hex: str) -> bool:
    """Whether `path` proves `head` is leaf `leaf_index` of the tree whose root is `root_hex`."""
    try:
        nodes = [bytes.fromhex(node) for node in path]
    except ValueError:
        return False
    root = root_from_path(leaf_index, tree_size, leaf_hash(head.leaf_bytes()), nodes)
    return root is not None and root.hex() == root_hex
