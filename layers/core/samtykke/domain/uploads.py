"""Evidence files: what may be uploaded, where it lives in the evidence bucket, and how an upload is checked. Pure.

A screenshot (or PDF) proves how a consent was given or how an import's addresses were obtained. It is uploaded
straight to S3 through a presigned PUT that signs its content type, its length and its SHA-256, and checked again
after the upload (`check_upload`): the bytes must hash to the declared SHA-256, be the declared size, and start
with the magic bytes of the declared type. The browser's Content-Type header alone proves nothing.

Object keys (the evidence bucket's notification covers `evidence/`):

| object | key |
| --- | --- |
| a consent event's evidence file | `evidence/{tenant}/contacts/{contact}/{event}/{n:03d}.{ext}` |
| an import declaration's evidence file | `evidence/{tenant}/imports/{import}/{declaration}/{n:03d}.{ext}` |
| an import's CSV, deleted once imported | `imports/{tenant}/{import}/source.csv` |
| a big export, deleted after a day | `exports/{tenant}/{contact}/{export}.{json or html}` |
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from enum import StrEnum

EVIDENCE_PREFIX = "evidence/"
IMPORTS_PREFIX = "imports/"
EXPORTS_PREFIX = "exports/"
CHECKPOINTS_PREFIX = "checkpoints/"  # signed checkpoints, compliance-locked (services/evidence_log)
AUDIT_PREFIX = "audit/"  # audit exports, compliance-locked (services/audit/export.py)

# Content type -> file extension. Nothing else is accepted.
EVIDENCE_TYPES: dict[str, str] = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
)
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_TARGET = 20
UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 15 * 60

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Ids that go into keys: our own time-ordered ids (`con_…`, `evt_…`, `imp_…`, `dcl_…`) and tenant slugs.
ID = re.compile(r"^[a-z]{3}_[0-9a-f]{20,40}$")
TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_EVIDENCE_KEY = re.compile(
    r"^evidence/(?P<tenant>[a-z0-9][a-z0-9-]{0,62})/(?P<kind>contacts|imports)/(?P<owner>[a-z]{3}_[0-9a-f]{20,40})/"
    r"(?P<ref>[a-z]{3}_[0-9a-f]{20,40})/(?P<n>\d{3})\.(?P<ext>png|jpg|pdf)$"
)


class OwnerKind(StrEnum):
    """What an evidence file is attached to: a contact's consent event, or an import's declaration."""

    CONTACT = "contacts"
    IMPORT = "imports"


class FileStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Rejection(StrEnum):
    """Why an uploaded file was deleted and its attachment flagged."""

    SHA256_MISMATCH = "sha256_mismatch"
    SIZE_MISMATCH = "size_mismatch"
    TOO_LARGE = "too_large"
    TYPE_NOT_ALLOWED = "type_not_allowed"  # the bytes are not a PNG, JPEG or PDF
    TYPE_MISMATCH = "type_mismatch"  # the bytes, the declared type and the stored Content-Type disagree
    UNEXPECTED_UPLOAD = "unexpected_upload"  # a second upload to a checked file, or to a key nobody asked for


@dataclass(frozen=True)
class EvidenceKey:
    tenant_id: str
    kind: OwnerKind
    owner_id: str  # contact id or import id
    ref_id: str  # event id or declaration id
    n: int
    ext: str


def evidence_key(tenant_id: str, kind: OwnerKind, owner_id: str, ref_id: str, n: int, content_type: str) -> str:
    return f"{EVIDENCE_PREFIX}{tenant_id}/{kind.value}/{owner_id}/{ref_id}/{n:03d}.{EVIDENCE_TYPES[content_type]}"


def parse_evidence_key(key: str) -> EvidenceKey | None:
    match = _EVIDENCE_KEY.match(key)
    if match is None:
        return None
    return EvidenceKey(
        tenant_id=match["tenant"],
        kind=OwnerKind(match["kind"]),
        owner_id=match["owner"],
        ref_id=match["ref"],
        n=int(match["n"]),
        ext=match["ext"],
    )


def import_file_key(tenant_id: str, import_id: str) -> str:
    return f"{IMPORTS_PREFIX}{tenant_id}/{import_id}/source.csv"


def export_prefix(tenant_id: str, contact_id: str) -> str:
    return f"{EXPORTS_PREFIX}{tenant_id}/{contact_id}/"


def contact_evidence_prefix(tenant_id: str, contact_id: str) -> str:
    return f"{EVIDENCE_PREFIX}{tenant_id}/{OwnerKind.CONTACT.value}/{contact_id}/"


def sha256_base64(sha256_hex: str) -> str:
    """S3's `x-amz-checksum-sha256` header: the digest in base64, not hex."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def sniff_content_type(head: bytes) -> str | None:
    """The evidence type that the file's first bytes say it is, or None."""
    return next((content_type for magic, content_type in MAGIC if head.startswith(magic)), None)


def check_upload(
    *,
    declared_type: str,
    declared_size: int,
    declared_sha256: str,
    stored_type: str | None,
    size: int,
    head: bytes,
    sha256: str | None,
) -> Rejection | None:
    """Why the uploaded object must go, or None if it is exactly the file that was declared.

    `sha256` is None when the object was too large to read; `head` holds at least its first 16 bytes.
    """
    if size > MAX_EVIDENCE_BYTES:
        return Rejection.TOO_LARGE
    if size != declared_size:
        return Rejection.SIZE_MISMATCH
    sniffed = sniff_content_type(head)
    if sniffed is None:
        return Rejection.TYPE_NOT_ALLOWED
    if sniffed != declared_type or (stored_type or "").split(";")[0].strip().lower() != declared_type:
        return Rejection.TYPE_MISMATCH
    if sha256 != declared_sha256:
        return Rejection.SHA256_MISMATCH
    return None
