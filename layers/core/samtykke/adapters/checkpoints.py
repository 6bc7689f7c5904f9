"""Where signed checkpoints live: the KMS signing key, the Object-Locked `checkpoints/` prefix, and the table.

Table items (docs/evidence.md):

| item | pk | sk |
| --- | --- | --- |
| the newest checkpoint (its id, statement hash and the time it covers up to) | `CHECKPOINT` | `LATEST` |
| a contact's anchor: leaf, index, audit path, statement | `T#{tenant}#C#{contact}` | `ANCHOR#{checkpoint}` |

Chain heads that changed are listed in the `audience` index under `gsi1pk=HEADS#{shard}` (see
`services/evidence_log/heads.py`). KMS and S3 error codes never leave this module.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.adapters.evidence_store import s3_errors
from samtykke.adapters.repository import from_attributes, to_attributes
from samtykke.adapters.rights_repository import AUDIENCE_INDEX, RightsRepository
from samtykke.domain.uploads import CHECKPOINTS_PREFIX

LATEST_PK, LATEST_SK = "CHECKPOINT", "LATEST"
ANCHOR = "ANCHOR#"


def anchor_sk(checkpoint_id: str) -> str:
    return f"{ANCHOR}{checkpoint_id}"


class CheckpointSigner:
    """The asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): one Sign per checkpoint, the public key cached."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id

    def sign(self, message: bytes) -> str:
        """The DER ECDSA signature over SHA-256 of `message` (SIGNING_ALGORITHM in domain/evidence), base64."""
        with translate_aws_errors():
            result = aws.kms().sign(
                KeyId=self.key_id, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
            )
        return base64.b64encode(result["Signature"]).decode()

    def public_key_pem(self) -> bytes:
        return _public_key_pem(self.key_id)


@cache
def _public_key_pem(key_id: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    with translate_aws_errors():
        der = aws.kms().get_public_key(KeyId=key_id)["PublicKey"]
    key = serialization.load_der_public_key(der)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class CheckpointRepository(RightsRepository):
    def changed_heads(self, shard_pk: str, after: str, until: str) -> Iterator[str]:
        """The `gsi1sk` of each head listed under `shard_pk` that changed in (after, until]."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": AUDIENCE_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :after AND :until",
            "ExpressionAttributeValues": to_attributes({":pk": shard_pk, ":after": after, ":until": until}),
        }
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            for item in page.get("Items", []):
                key = str(from_attributes(item)["gsi1sk"])
                if key > after:  # BETWEEN includes its lower bound; the previous checkpoint covered it
                    yield key
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def latest(self) -> dict[str, Any] | None:
        return self.get(LATEST_PK, LATEST_SK)

    def advance_latest(self, record: dict[str, Any], previous_id: str | None) -> bool:
        """Moves the pointer to `record` unless another checkpoint moved it first."""
        condition = "attribute_not_exists(pk)" if previous_id is None else "checkpoint_id = :prev"
        values = {} if previous_id is None else {":prev": previous_id}
        return self.update(LATEST_PK, LATEST_SK, record, condition=condition, values=values) is not None

    def put_anchors(self, anchors: list[dict[str, Any]]) -> None:
        self.batch_put(anchors)


class CheckpointArchive:
    """Signed checkpoints in the evidence bucket, in compliance mode: no one, root included, deletes them early."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, checkpoint_id: str, document: dict[str, Any], retain_until: datetime) -> str:
        key = f"{CHECKPOINTS_PREFIX}{checkpoint_id}.json"
        with s3_errors():
            aws.s3().put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document, separators=(",", ":")).encode(),
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=retain_until,
            )
        return key

    def get(self, checkpoint_id: str) -> dict[str, Any]:
        with s3_errors():
            body = aws.s3().get_object(Bucket=self.bucket, Key=f"{CHECKPOINTS_PREFIX}{checkpoint_id}.json")["Body"]
            document: dict[str, Any] = json.loads(body.read())
        return document
