"""Evidence files: upload slots for a consent event or an import declaration, and the check after each upload.

1. An admin asks for a slot, declaring the file's content type, size and SHA-256. The slot is an item next to the
   event (`EVIDENCE#{event}#{n}` in the contact's partition; the append-only event is never touched) or next to
   the import's declaration, and a presigned PUT URL that signs all three.
2. The client PUTs the file. The bucket notifies the evidence upload queue; `evidence_check` runs `check_object`.
3. The check reads the object: size, magic bytes (PNG, JPEG or PDF, whatever the header said) and SHA-256 must
   match the declaration. A match locks the version for the tenant's evidence retention and marks the file
   `verified`; a mismatch deletes the object (every version, through the governance bypass) and marks the file
   `rejected` with the reason, which is how the event shows the flag.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from samtykke.adapters.evidence_store import EvidenceStore
from samtykke.adapters.repository import AlreadyExists, contact_pk
from samtykke.adapters.rights_repository import EVIDENCE, RightsRepository, evidence_sk, import_pk
from samtykke.domain.errors import Conflict, InvalidInput, NotFound
from samtykke.domain.uploads import (
    DOWNLOAD_URL_SECONDS,
    EVIDENCE_TYPES,
    ID,
    MAX_EVIDENCE_BYTES,
    MAX_FILES_PER_TARGET,
    SHA256_HEX,
    UPLOAD_URL_SECONDS,
    FileStatus,
    OwnerKind,
    Rejection,
    check_upload,
    evidence_key,
    parse_evidence_key,
    sha256_base64,
)
from samtykke.models.rights import EvidenceFile, UploadInstructions, UploadSlot
from samtykke.observability import logger
from samtykke.services.context import Services

SNIFF_BYTES = 16


class EventNotFound(NotFound):
    code = "event_not_found"


class ImportNotFound(NotFound):
    code = "import_not_found"


class TooManyFiles(Conflict):
    code = "too_many_evidence_files"


def rights_repo(svc: Services) -> RightsRepository:
    return RightsRepository(svc.repo.table_name)


def evidence_store(svc: Services) -> EvidenceStore:
    return EvidenceStore(svc.settings.evidence_bucket)


def validate_declared_file(content_type: str, size_bytes: int, sha256: str) -> str:
    """The normalised content type of a file someone means to upload; a coded 4xx if it cannot be evidence."""
    normalised = content_type.split(";")[0].strip().lower()
    if normalised not in EVIDENCE_TYPES:
        raise InvalidInput(
            "Evidence must be image/png, image/jpeg or application/pdf", code="unsupported_evidence_type"
        )
    if not 1 <= size_bytes <= MAX_EVIDENCE_BYTES:
        raise InvalidInput(f"Evidence files may be 1 to {MAX_EVIDENCE_BYTES} bytes", code="evidence_too_large")
    if not SHA256_HEX.match(sha256):
        raise InvalidInput("sha256 must be 64 lowercase hex digits", code="invalid_sha256")
    return normalised


def file_view(item: dict[str, Any], *, download_url: str | None = None) -> EvidenceFile:
    return EvidenceFile(
        file_id=f"{item['ref_id']}/{item['n']}",
        key=item["key"],
        content_type=item["content_type"],
        size_bytes=item["size_bytes"],
        sha256=item["sha256"],
        status=FileStatus(item["status"]),
        rejection=item.get("rejection"),
        created_at=item["created_at"],
        checked_at=item.get("checked_at"),
        retain_until=item.get("retain_until"),
        download_url=download_url,
    )


def request_event_upload(
    svc: Services,
    tenant_id: str,
    contact_id: str,
    event_id: str,
    *,
    content_type: str,
    size_bytes: int,
    sha256: str,
    actor_id: str,
) -> UploadSlot:
    if not ID.match(contact_id) or not ID.match(event_id):
        raise EventNotFound("No such event")
    repo = rights_repo(svc)
    profile = svc.repo.get(contact_pk(tenant_id, contact_id), "PROFILE", consistent=True)
    if profile is None or profile.get("erased") or repo.find_event(tenant_id, contact_id, event_id) is None:
        raise EventNotFound("No such event for that contact")
    return _new_slot(
        svc, tenant_id, OwnerKind.CONTACT, contact_id, event_id, content_type, size_bytes, sha256, actor_id
    )


def request_declaration_upload(
    svc: Services, tenant_id: str, import_id: str, *, content_type: str, size_bytes: int, sha256: str, actor_id: str
) -> UploadSlot:
    if not ID.match(import_id):
        raise ImportNotFound("No such import")
    item = rights_repo(svc).get(import_pk(tenant_id, import_id), "IMPORT")
    if item is None:
        raise ImportNotFound("No such import")
    return _new_slot(
        svc,
        tenant_id,
        OwnerKind.IMPORT,
        import_id,
        item["declaration_id"],
        content_type,
        size_bytes,
        sha256,
        actor_id,
    )


def _owner_pk(tenant_id: str, kind: OwnerKind, owner_id: str) -> str:
    return contact_pk(tenant_id, owner_id) if kind is OwnerKind.CONTACT else import_pk(tenant_id, owner_id)


def _new_slot(
    svc: Services,
    tenant_id: str,
    kind: OwnerKind,
    owner_id: str,
    ref_id: str,
    content_type: str,
    size_bytes: int,
    sha256: str,
    actor_id: str,
) -> UploadSlot:
    content_type = validate_declared_file(content_type, size_bytes, sha256)
    repo = rights_repo(svc)
    pk = _owner_pk(tenant_id, kind, owner_id)
    now = svc.clock()
    for _ in range(3):
        taken = [i["n"] for i in repo.query(pk, prefix=f"{EVIDENCE}{ref_id}#", projection="#n", names={"#n": "n"})]
        n = max(taken, default=0) + 1
        if n > MAX_FILES_PER_TARGET:
            raise TooManyFiles(f"At most {MAX_FILES_PER_TARGET} evidence files per event or declaration")
        key = evidence_key(tenant_id, kind, owner_id, ref_id, n, content_type)
        item = {
            "pk": pk,
            "sk": evidence_sk(ref_id, n),
            "kind": kind.value,
            "owner_id": owner_id,
            "ref_id": ref_id,
            "n": n,
            "key": key,
            "content_type": content_type,
            "size_bytes": size_bytes,
            "sha256": sha256,
            "status": FileStatus.AWAITING_UPLOAD.value,
            "created_at": now.isoformat(),
            "created_by": actor_id,
        }
        try:
            repo.put_new(item)
        except AlreadyExists:
            continue  # another request took this number just now
        url, headers = evidence_store(svc).presign_put(
            key,
            content_type=content_type,
            size=size_bytes,
            sha256_b64=sha256_base64(sha256),
            expires_in=UPLOAD_URL_SECONDS,
        )
        return UploadSlot(
            file=file_view(item),
            upload=UploadInstructions(url=url, headers=headers, expires_at=now + timedelta(seconds=UPLOAD_URL_SECONDS)),
            max_bytes=MAX_EVIDENCE_BYTES,
        )
    raise Conflict("Too many uploads for this event at once; retry", code="contention")


def files_of(svc: Services, tenant_id: str, kind: OwnerKind, owner_id: str) -> list[dict[str, Any]]:
    return list(rights_repo(svc).query(_owner_pk(tenant_id, kind, owner_id), prefix=EVIDENCE))


def download_url(svc: Services, item: dict[str, Any]) -> str | None:
    if item.get("status") != FileStatus.VERIFIED.value:
        return None
    name = item["key"].rsplit("/", 1)[-1]
    return evidence_store(svc).presign_get(
        item["key"], version_id=item.get("version_id"), expires_in=DOWNLOAD_URL_SECONDS, filename=name
    )


# --- the check after an upload (evidence_check) ----------------------------------------------------------------


def check_notification(svc: Services, notification: dict[str, Any]) -> int:
    """Checks every object an S3 event notification names; how many records it checked. S3's test event is ignored."""
    checked = 0
    for record in notification.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        key = unquote_plus(str(obj.get("key", "")))
        check_object(svc, key, version_id=obj.get("versionId"), size=obj.get("size"))
        checked += 1
    return checked


def check_object(svc: Services, key: str, *, version_id: str | None = None, size: int | None = None) -> str:
    """Verifies one uploaded object against its slot; returns the outcome (`verified`, `rejected`, `ignored`…)."""
    store = evidence_store(svc)
    parsed = parse_evidence_key(key)
    if parsed is None:
        logger.warning("Object outside the evidence layout", extra={"key": key})
        return "ignored"
    repo = rights_repo(svc)
    pk, sk = _owner_pk(parsed.tenant_id, parsed.kind, parsed.owner_id), evidence_sk(parsed.ref_id, parsed.n)
    item = repo.get(pk, sk)
    head = store.head(key, version_id)
    if head is None:
        return "gone"  # deleted already (a repeated notification, or erasure got there first)
    version_id = version_id or head.get("VersionId")
    if item is None:
        store.destroy(key, reason=Rejection.UNEXPECTED_UPLOAD.value)
        return "rejected"
    if item["status"] != FileStatus.AWAITING_UPLOAD.value:
        if item.get("version_id") == version_id:
            return "unchanged"  # the same notification again
        # A second upload through a still-valid URL must not replace the checked file.
        store.destroy(key, reason=Rejection.UNEXPECTED_UPLOAD.value, version_id=version_id)
        return "rejected"
    actual_size = int(head.get("ContentLength", size or 0))
    sha256: str | None = None
    data = b""
    if actual_size <= MAX_EVIDENCE_BYTES:
        data = store.read(key, version_id, limit=MAX_EVIDENCE_BYTES + 1)
        sha256 = hashlib.sha256(data).hexdigest()
    else:
        data = store.read(key, version_id, limit=SNIFF_BYTES)
    rejection = check_upload(
        declared_type=item["content_type"],
        declared_size=item["size_bytes"],
        declared_sha256=item["sha256"],
        stored_type=head.get("ContentType"),
        size=len(data) if sha256 is not None else actual_size,
        head=data[:SNIFF_BYTES],
        sha256=sha256,
    )
    now = svc.clock()
    if rejection is not None:
        store.destroy(key, reason=rejection.value)
        _settle(repo, pk, sk, now, status=FileStatus.REJECTED, rejection=rejection, version_id=version_id)
        logger.warning("Evidence upload rejected and deleted", extra={"key": key, "rejection": rejection.value})
        return "rejected"
    retain_until = now + timedelta(days=svc.catalogs.get(parsed.tenant_id).tenant.evidence_retention_days)
    store.lock(key, version_id, retain_until)
    _settle(repo, pk, sk, now, status=FileStatus.VERIFIED, version_id=version_id, retain_until=retain_until)
    return "verified"


def _settle(
    repo: RightsRepository,
    pk: str,
    sk: str,
    now: datetime,
    *,
    status: FileStatus,
    version_id: str | None,
    rejection: Rejection | None = None,
    retain_until: datetime | None = None,
) -> None:
    changes: dict[str, Any] = {"status": status.value, "checked_at": now.isoformat()}
    if version_id:
        changes["version_id"] = version_id
    if rejection is not None:
        changes["rejection"] = rejection.value
    if retain_until is not None:
        changes["retain_until"] = retain_until.isoformat()
    repo.update(
        pk,
        sk,
        changes,
        condition="attribute_exists(pk) AND #status_ = :awaiting",
        values={":awaiting": FileStatus.AWAITING_UPLOAD.value},
        names={"#status_": "status"},
    )
