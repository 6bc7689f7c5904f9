"""Signing checkpoints: a Merkle root over every chain head changed since the last checkpoint (RFC 9162 style).

One KMS `Sign` per checkpoint, whatever the number of captures it covers. The scheduled `checkpoint_writer`
writes one every few minutes when heads changed, and every DSAR export writes one that covers its contact, so
an export always carries a fresh anchor. Order of writes, each safe to repeat after a crash:
1. the signed checkpoint, with its leaves, to `checkpoints/` in the evidence bucket (Object Lock, compliance);
2. each covered contact's anchor item (leaf, index, audit path, statement, signature);
3. the `LATEST` pointer, conditional on the previous checkpoint's id, so two writers never both advance it.
A crash before step 3 leaves a valid checkpoint that the pointer never reached; the next one covers its heads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from samtykke.adapters.checkpoints import (
    CheckpointArchive,
    CheckpointRepository,
    CheckpointSigner,
    anchor_sk,
)
from samtykke.adapters.repository import PROFILE, contact_pk
from samtykke.domain.errors import Conflict, SamtykkeError
from samtykke.domain.evidence.checkpoint import GENESIS_CHECKPOINT, Head, Tree, statement, statement_sha256
from samtykke.domain.evidence.verify import verify_log
from samtykke.services.catalog import strip_keys
from samtykke.services.context import Services
from samtykke.services.evidence_log.heads import HEAD_SHARDS, heads_pk, parse_head_key, stamp
from samtykke.services.ledger import new_id

# The GSI is eventually consistent: the scheduled run leaves the last minute to the next one.
INDEX_LAG = timedelta(seconds=60)
RETAIN_CHECKPOINTS = timedelta(days=10 * 365)
EPOCH_STAMP = "0000"


class SigningNotConfigured(SamtykkeError):
    code = "checkpoint_key_missing"
    status = 503


class CheckpointRaced(Conflict):
    code = "checkpoint_raced"


@dataclass(frozen=True)
class CheckpointResult:
    checkpoint_id: str
    tree_size: int
    root_hash: str
    statement: str
    signature: str


def signer(svc: Services) -> CheckpointSigner:
    if not svc.settings.checkpoint_key_id:
        raise SigningNotConfigured("No checkpoint signing key is configured")
    return CheckpointSigner(svc.settings.checkpoint_key_id)


def _repo(svc: Services) -> CheckpointRepository:
    return CheckpointRepository(svc.repo.table_name)


def write_checkpoint(
    svc: Services,
    *,
    include: tuple[tuple[str, str], ...] = (),
    scan_changes: bool = True,
    lag: timedelta = INDEX_LAG,
) -> CheckpointResult | None:
    """Signs the heads changed since the last checkpoint, plus `include`'s (tenant, contact) heads.

    With `scan_changes` off (a DSAR export), it signs only `include`'s heads and leaves the window of changes to
    the next scheduled run, so an export's cost does not grow with everyone else's traffic. None when there is
    nothing to sign: no KMS call, nothing written.
    """
    repo = _repo(svc)
    latest = repo.latest()
    since = str(latest["until"]) if latest else EPOCH_STAMP
    until = stamp(svc.clock() - lag) if scan_changes else since
    wanted = set(include)
    if until > since:
        for shard in range(HEAD_SHARDS):
            wanted.update(parse_head_key(key) for key in repo.changed_heads(heads_pk(shard), since, until))
    else:
        until = since
    if not wanted:
        return None
    profiles = repo.batch_get([(contact_pk(t, c), PROFILE) for t, c in sorted(wanted)])
    heads = [
        Head(t, c, int(item["seq"]), str(item["last_hash"]))
        for t, c in sorted(wanted)
        if (item := profiles.get((contact_pk(t, c), PROFILE))) is not None and int(item.get("seq") or 0) > 0
    ]
    if not heads:
        return None
    tree = Tree.of(heads)
    sign = signer(svc)
    checkpoint_id = new_id("ckp")
    issued_at = svc.clock()
    signed = statement(
        checkpoint_id=checkpoint_id,
        issued_at=issued_at.isoformat(),
        tree=tree,
        previous_sha256=str(latest["statement_sha256"]) if latest else GENESIS_CHECKPOINT,
        key_id=sign.key_id,
        since=since,
        until=until,
    )
    signature = sign.sign(signed)
    text = signed.decode()
    CheckpointArchive(svc.settings.evidence_bucket).put(
        checkpoint_id,
        {"statement": text, "signature": signature, "leaves": [_leaf(h) for h in tree.heads]},
        issued_at + RETAIN_CHECKPOINTS,
    )
    repo.put_anchors(
        [
            {
                "pk": contact_pk(head.tenant_id, head.contact_id),
                "sk": anchor_sk(checkpoint_id),
                "checkpoint_id": checkpoint_id,
                "checkpoint": {"statement": text, "signature": signature},
                "leaf": _leaf(head),
                "leaf_index": index,
                "audit_path": tree.proof(index),
            }
            for index, head in enumerate(tree.heads)
        ]
    )
    pointer = {
        "checkpoint_id": checkpoint_id,
        "statement_sha256": statement_sha256(signed),
        "until": until,
        "issued_at": issued_at.isoformat(),
        "tree_size": len(tree.heads),
    }
    if not repo.advance_latest(pointer, str(latest["checkpoint_id"]) if latest else None):
        raise CheckpointRaced("Another checkpoint was written meanwhile; its successor covers these heads")
    return CheckpointResult(checkpoint_id, len(tree.heads), tree.root(), text, signature)


def _leaf(head: Head) -> dict[str, Any]:
    return {"tenant_id": head.tenant_id, "contact_id": head.contact_id, "seq": head.seq, "head": head.head}


def anchors_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A contact's anchor items (from its partition), oldest checkpoint first, as exports and receipts carry them."""
    return [
        {k: item[k] for k in ("checkpoint_id", "checkpoint", "leaf", "leaf_index", "audit_path")}
        for item in sorted((i for i in items if i["sk"].startswith("ANCHOR#")), key=lambda i: str(i["sk"]))
    ]


def public_key_pem(svc: Services) -> bytes:
    return signer(svc).public_key_pem()


def latest_checkpoint(svc: Services) -> dict[str, Any] | None:
    latest = _repo(svc).latest()
    if latest is None:
        return None
    return CheckpointArchive(svc.settings.evidence_bucket).get(str(latest["checkpoint_id"]))


def audit_latest(svc: Services, tenant_id: str) -> dict[str, Any]:
    """Checks each of the tenant's contacts in the latest checkpoint against the table as it is now.

    The leaves and proofs come from the archived checkpoint, not the table, so deleting a contact or its anchor
    items hides nothing: a contact the checkpoint covered and the table lost is `contact_missing`.
    """
    document = latest_checkpoint(svc)
    if document is None:
        return {"checkpoint_id": None, "contacts_checked": 0, "problems": []}
    tree = Tree.of(Head.from_dict(leaf) for leaf in document["leaves"])
    pem = public_key_pem(svc)
    checkpoint = {"statement": document["statement"], "signature": document["signature"]}
    problems: list[dict[str, Any]] = []
    checked = 0
    for index, head in enumerate(tree.heads):
        if head.tenant_id != tenant_id:
            continue
        checked += 1
        items = svc.repo.load_contact(tenant_id, head.contact_id)
        profile = next((i for i in items if i["sk"] == PROFILE), None)
        if profile is None:
            problems.append(
                {"contact_id": head.contact_id, "code": "contact_missing", "seq": 1, "message": "the contact is gone"}
            )
            continue
        anchor = {"checkpoint": checkpoint, "leaf": _leaf(head), "leaf_index": index, "audit_path": tree.proof(index)}
        verdict = verify_log(
            tenant_id,
            head.contact_id,
            [strip_keys(i) for i in items if i["sk"].startswith("EVENT#")],
            {"seq": profile.get("seq"), "last_hash": profile.get("last_hash")},
            [anchor],
            pem,
        )
        problems += [
            {"contact_id": head.contact_id, "code": p.code, "seq": p.seq, "message": p.message}
            for p in verdict.problems
        ]
    return {
        "checkpoint_id": json.loads(document["statement"])["checkpoint_id"],
        "contacts_checked": checked,
        "problems": problems,
    }
