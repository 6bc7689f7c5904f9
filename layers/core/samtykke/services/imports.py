"""Lawful imports: a declared CSV of contacts, imported in resumable, idempotent chunks.

1. `create_import`: the import declares how its addresses were lawfully obtained (source, legal basis, a
   description; optionally screenshots, through `POST /v1/admin/imports/{id}/evidence`), which purposes it grants,
   and the CSV's size and SHA-256. Without a declaration it is refused (422 `declaration_required`). The response
   carries a presigned PUT for the CSV.
2. `start_import` queues the first chunk. `process` (the `import_processor` function) first checks the whole
   file's SHA-256 and size, then reads it record by record from the byte offset saved on the import, and saves the
   offset, the line number and the counts after every batch of rows, conditionally on a generation number, so a
   re-delivered or concurrent message never processes a batch twice. It stops before the Lambda's time runs out
   and queues the next chunk.
3. Every good row goes through the ledger: an `import` event per purpose and channel, with the declared legal
   basis (if the declaration names none, the purpose's default: `consent` for a marketing purpose, which is
   imported on no other basis) and source, the declaration's id, the import's actor, and the import's id and line
   in the sealed evidence, and the row as the event's `request_id` (`{import}:{line}`). New contacts are written
   several to a transaction (`Ledger.create_many`); a row whose address already has a contact is written on its own, and
   skipped if the contact's log already holds an event under this declaration, which makes a re-run, or the same
   address twice in one file, harmless. An event of the same row is this import's own earlier write (a batch that
   committed and was then redone): the row counts as imported, not as a duplicate.
5. A transient fault (throttling, a lost answer) in a batch retries the batch at once, a few times (every write in
   it is idempotent); if AWS stays unwell, the import saves nothing more and queues itself again after a short
   delay, instead of waiting out the queue's 15-minute visibility timeout.
4. Suppressed addresses (unsubscribed, SMS STOP, bounce, complaint, erased) are never granted; withdrawn consents
   are never overridden; minors are never imported. Each such row, and each bad row, is reported with its line
   number and reason (`ISSUE#` items, never the address). When the file is done, it is deleted from S3.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from samtykke.adapters import evidence_queue
from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.import_queue import enqueue_chunk
from samtykke.adapters.rights_repository import (
    ISSUE,
    RightsRepository,
    import_pk,
    imports_index_pk,
    issue_sk,
)
from samtykke.domain.access import Principal
from samtykke.domain.age import is_minor
from samtykke.domain.consent import (
    CHANNEL_ADDRESS,
    ActorType,
    AddressKind,
    Channel,
    ConsentStatus,
    EventType,
    LegalBasis,
)
from samtykke.domain.custom_fields import CUSTOM_FIELDS_KEY
from samtykke.domain.errors import Conflict, InvalidInput, RetryableError
from samtykke.domain.imports import (
    FileProblem,
    Header,
    ImportRow,
    ImportStatus,
    IssueCode,
    IssueKind,
    Record,
    RowIssue,
    parse_header,
    physical_lines,
    records,
    split_fields,
    validate_row,
)
from samtykke.domain.purposes import MarketingNeedsConsent, PurposeKind, recorded_basis
from samtykke.domain.suppression import suppression_reason
from samtykke.domain.uploads import ID, UPLOAD_URL_SECONDS, OwnerKind, import_file_key, sha256_base64
from samtykke.models.consent import Actor, ContactProfile, Evidence, TextRef
from samtykke.models.rights import (
    DeclaredFile,
    ImportCounts,
    ImportCreate,
    ImportDeclaration,
    ImportIssue,
    ImportIssues,
    ImportList,
    ImportView,
    UploadInstructions,
)
from samtykke.observability import logger
from samtykke.services import audit
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.evidence import ImportNotFound, evidence_store, file_view, files_of, rights_repo
from samtykke.services.ledger import Address, ContactTarget, Ledger, LoadedContact, StateChange, new_id

CSV_CONTENT_TYPE = "text/csv"
CSV_RETAIN_DAYS = 7
BATCH_ROWS = 100  # rows per address lookup and per saved cursor
ROWS_PER_INVOCATION = 20_000  # then the next chunk goes on the queue
TIME_MARGIN_MS = 45_000  # stop this long before the Lambda's timeout
MAX_ISSUES_PAGE = 500
BATCH_ATTEMPTS = 4  # a batch that meets a transient fault is redone at once, this many times in all
BATCH_BACKOFF_SECONDS = 0.2
RESUME_DELAY_SECONDS = 30  # then the import queues itself again, this much later
META = "IMPORT"
AUDIT_STARTED = "contacts.import_started"


class ImportFinished(Conflict):
    code = "import_finished"


class UploadMissing(Conflict):
    code = "upload_missing"


# --- creating, starting and reading an import ----------------------------------------------------------------


def _texts(catalog: TenantCatalog, body: ImportCreate, locale: str) -> dict[str, dict[str, Any]]:
    texts: dict[str, dict[str, Any]] = {}
    for purpose_id, version in body.text_versions.items():
        if purpose_id not in body.purposes:
            raise InvalidInput(
                f"text_versions names '{purpose_id}', which the import does not grant", code="unknown_purpose"
            )
        text = catalog.text(purpose_id, locale, version)
        if text is None:
            raise InvalidInput(f"No version {version} of '{purpose_id}' in '{locale}'", code="unknown_text_version")
        texts[purpose_id] = TextRef(
            purpose_id=purpose_id, locale=locale, version=version, sha256=text.sha256
        ).model_dump()
    return texts


def create_import(svc: Services, principal: Principal, body: ImportCreate) -> ImportView:
    """Validates the declaration against the catalogue, stores the import, and hands out the CSV's upload URL."""
    if body.declaration is None:
        raise InvalidInput(
            "An import must declare how the addresses were obtained: source, legal basis and description",
            code="declaration_required",
        )
    tenant_id = principal.tenant_id
    catalog = svc.catalogs.get(tenant_id)
    declaration = body.declaration
    source = catalog.sources.get(declaration.source)
    if source is None or not source.active:
        raise InvalidInput(f"Unknown source '{declaration.source}'", code="unknown_source")
    if declaration.legal_basis is LegalBasis.WITHDRAWN:
        raise InvalidInput("Declare the legal basis the addresses were obtained under", code="invalid_legal_basis")
    purposes = list(dict.fromkeys(body.purposes))
    for purpose_id in purposes:
        purpose = catalog.purposes.get(purpose_id)
        if purpose is None:
            raise InvalidInput(f"Unknown purpose '{purpose_id}'", code="unknown_purpose")
        if not purpose.active:
            raise InvalidInput(f"Purpose '{purpose_id}' is no longer active", code="purpose_inactive")
        if purpose.kind is PurposeKind.MARKETING and declaration.legal_basis not in (None, LegalBasis.CONSENT):
            raise MarketingNeedsConsent(f"'{purpose_id}' is a marketing purpose: it is imported on consent only")
    locale = body.locale or catalog.tenant.default_locale
    texts = _texts(catalog, body.model_copy(update={"purposes": purposes}), locale)

    now = svc.clock()
    import_id, declaration_id = new_id("imp"), new_id("dcl")
    key = import_file_key(tenant_id, import_id)
    item: dict[str, Any] = {
        "pk": import_pk(tenant_id, import_id),
        "sk": META,
        "tenant_id": tenant_id,
        "import_id": import_id,
        "declaration_id": declaration_id,
        "declaration": declaration.model_dump(mode="json"),
        "declared_by": {"type": principal.principal_type, "id": principal.principal_id},
        "purposes": purposes,
        "locale": locale,
        "texts": texts,
        "file": {**body.file.model_dump(), "key": key},
        "status": ImportStatus.AWAITING_UPLOAD.value,
        "created_at": now.isoformat(),
        "generation": 0,
        "offset": 0,
        "next_line": 1,
        "counts": ImportCounts().model_dump(),
    }
    repo = rights_repo(svc)
    repo.put_new(item)
    repo.batch_put([{"pk": imports_index_pk(tenant_id), "sk": import_id, "created_at": now.isoformat()}])
    url, headers = evidence_store(svc).presign_put(
        key,
        content_type=CSV_CONTENT_TYPE,
        size=body.file.size_bytes,
        sha256_b64=sha256_base64(body.file.sha256),
        expires_in=UPLOAD_URL_SECONDS,
        # The CSV holds addresses in clear: locked only while it may still be imported, never for the bucket's
        # evidence retention. It is deleted once imported; a lifecycle rule removes one never started.
        retain_until=now + timedelta(days=CSV_RETAIN_DAYS),
    )
    upload = UploadInstructions(url=url, headers=headers, expires_at=now + timedelta(seconds=UPLOAD_URL_SECONDS))
    return _view(svc, item).model_copy(update={"upload": upload})


def _load(svc: Services, tenant_id: str, import_id: str) -> dict[str, Any]:
    item = rights_repo(svc).get(import_pk(tenant_id, import_id), META) if ID.match(import_id) else None
    if item is None:
        raise ImportNotFound("No such import")
    return item


def _view(svc: Services, item: dict[str, Any], *, with_files: bool = False) -> ImportView:
    files = files_of(svc, item["tenant_id"], OwnerKind.IMPORT, item["import_id"]) if with_files else []
    return ImportView(
        import_id=item["import_id"],
        declaration_id=item["declaration_id"],
        status=ImportStatus(item["status"]),
        declaration=ImportDeclaration.model_validate(item["declaration"]),
        purposes=item["purposes"],
        file=DeclaredFile(size_bytes=item["file"]["size_bytes"], sha256=item["file"]["sha256"]),
        created_at=item["created_at"],
        started_at=item.get("started_at"),
        completed_at=item.get("completed_at"),
        problem=item.get("problem"),
        lines_read=max(int(item.get("next_line", 1)) - 1, 0),
        bytes_read=int(item.get("offset", 0)),
        counts=ImportCounts.model_validate(item.get("counts") or {}),
        ignored_columns=(item.get("header") or {}).get("ignored", []),
        evidence_files=[file_view(f) for f in files],
    )


def import_view(svc: Services, tenant_id: str, import_id: str) -> ImportView:
    return _view(svc, _load(svc, tenant_id, import_id), with_files=True)


def list_imports(svc: Services, tenant_id: str, *, limit: int, cursor: str | None) -> ImportList:
    repo = rights_repo(svc)
    index, next_cursor = repo.query_page(imports_index_pk(tenant_id), prefix="imp_", limit=limit, cursor=cursor)
    found = repo.batch_get([(import_pk(tenant_id, i["sk"]), META) for i in index])
    items = [found[key] for i in index if (key := (import_pk(tenant_id, i["sk"]), META)) in found]
    return ImportList(imports=[_view(svc, item) for item in items], next_cursor=next_cursor)


def import_issues(svc: Services, tenant_id: str, import_id: str, *, limit: int, cursor: str | None) -> ImportIssues:
    _load(svc, tenant_id, import_id)
    items, next_cursor = rights_repo(svc).query_page(
        import_pk(tenant_id, import_id), prefix=ISSUE, limit=min(max(limit, 1), MAX_ISSUES_PAGE), cursor=cursor
    )
    issues = [ImportIssue(line=i["line"], kind=i["kind"], code=i["code"], detail=i.get("detail")) for i in items]
    return ImportIssues(issues=issues, next_cursor=next_cursor)


def start_import(svc: Services, principal: Principal, import_id: str, *, ip: str | None = None) -> ImportView:
    """Queues the import's first chunk. Starting a queued or running import again is harmless (it re-queues)."""
    tenant_id = principal.tenant_id
    item = _load(svc, tenant_id, import_id)
    status = ImportStatus(item["status"])
    if status in (ImportStatus.COMPLETED, ImportStatus.FAILED):
        raise ImportFinished(f"The import has already {status.value}")
    if status is ImportStatus.AWAITING_UPLOAD:
        head = evidence_store(svc).head(item["file"]["key"])
        if head is None:
            raise UploadMissing("Upload the CSV to the import's upload URL first")
        if int(head.get("ContentLength", -1)) != int(item["file"]["size_bytes"]):
            raise UploadMissing("The uploaded file is not the size the import declared", code="upload_size_mismatch")
        now = svc.clock().isoformat()
        updated = rights_repo(svc).update(
            import_pk(tenant_id, import_id),
            META,
            {
                "status": ImportStatus.QUEUED.value,
                "started_at": now,
                "started_by": {"type": principal.principal_type, "id": principal.principal_id},
            },
            condition="#s = :awaiting",
            values={":awaiting": ImportStatus.AWAITING_UPLOAD.value},
            names={"#s": "status"},
        )
        if updated is not None:
            audit.record(svc, principal, AUDIT_STARTED, ("import", import_id), ip, {"purposes": item["purposes"]})
        item = updated or _load(svc, tenant_id, import_id)
    if ImportStatus(item["status"]) in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        enqueue_chunk(tenant_id, import_id)
    return _view(svc, item, with_files=True)


# --- processing ---------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """What one batch of rows produced: issues to store, and how the counts move."""

    issues: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def issue(self, line: int, kind: IssueKind, code: IssueCode, detail: str | None = None) -> None:
        self.issues.append({"line": line, "kind": kind.value, "code": code.value, "detail": detail})


@dataclass
class _Context:
    svc: Services
    item: dict[str, Any]
    catalog: TenantCatalog
    keys: TenantKeys
    ledger: Ledger
    actor: Actor
    header: Header

    @property
    def tenant_id(self) -> str:
        return str(self.item["tenant_id"])


def process(svc: Services, tenant_id: str, import_id: str, *, remaining_ms: Callable[[], int]) -> ImportStatus:
    """Processes the import from its saved cursor until it ends, the time runs short, or the chunk is full."""
    item = _load(svc, tenant_id, import_id)
    status = ImportStatus(item["status"])
    if status in (ImportStatus.COMPLETED, ImportStatus.FAILED):
        # A redelivery after the end was recorded: the worker may have died before it queued the CSV's deletion.
        evidence_queue.request_import_file_deletion(tenant_id, import_id, reason=f"import_{status.value}")
        return status
    if status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return status  # not started: a stray message
    repo = rights_repo(svc)
    if not item.get("file_verified"):
        problem = _verify_file(svc, item)
        if problem is not None:
            return _fail(svc, item, problem)
        item = _advance(repo, item, {"file_verified": True, "status": ImportStatus.RUNNING.value}) or {}
        if not item:
            return status  # another worker is on it
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    declared_by = item.get("started_by") or item["declared_by"]
    actor = Actor(type=ActorType(declared_by["type"]), id=declared_by.get("id"))

    source = evidence_store(svc).stream(item["file"]["key"], None, start=int(item["offset"]))
    stream = records(physical_lines(source), int(item["offset"]), int(item["next_line"]))
    if item.get("header") is None:
        first = next(stream, None)
        custom_names = catalog.tenant.custom_field_types()
        header = parse_header(first.text or "", custom_names) if first is not None and first.text is not None else None
        if not isinstance(header, Header):
            return _fail(svc, item, header if isinstance(header, FileProblem) else FileProblem.HEADER_MISSING)
        assert first is not None
        header_fields = {
            "delimiter": header.delimiter,
            "columns": header.columns,
            "ignored": header.ignored,
            "width": header.width,
        }
        item = (
            _advance(repo, item, {"header": header_fields, "offset": first.end_offset, "next_line": first.next_line})
            or {}
        )
        if not item:
            return status
    saved = item["header"]
    header = Header(saved["delimiter"], dict(saved["columns"]), list(saved["ignored"]), int(saved["width"]))
    context = _Context(svc, item, catalog, keys, Ledger(svc, keys), actor, header)

    processed = 0
    while True:
        batch_records = [r for _, r in zip(range(BATCH_ROWS), stream, strict=False)]
        if not batch_records:
            return _complete(svc, context.item)
        try:
            advanced = _run_batch(context, repo, batch_records)
        except RetryableError:
            logger.warning("Import batch kept failing; resuming shortly", extra={"import_id": import_id})
            enqueue_chunk(tenant_id, import_id, delay_seconds=RESUME_DELAY_SECONDS)
            return ImportStatus.RUNNING
        if advanced is None:
            logger.info("Import advanced by another worker; stopping", extra={"import_id": import_id})
            return ImportStatus.RUNNING
        context.item = advanced
        processed += len(batch_records)
        if processed >= ROWS_PER_INVOCATION or remaining_ms() < TIME_MARGIN_MS:
            enqueue_chunk(tenant_id, import_id)
            return ImportStatus.RUNNING


def _run_batch(context: _Context, repo: RightsRepository, batch_records: list[Record]) -> dict[str, Any] | None:
    """Applies one batch and saves the cursor after it, retrying the whole batch on a transient fault."""
    for attempt in range(BATCH_ATTEMPTS):
        try:
            batch = _apply(context, batch_records)
            issues = [{"pk": context.item["pk"], "sk": issue_sk(i["line"]), **i} for i in batch.issues]
            repo.batch_put(issues)
            counts = dict(context.item["counts"])
            for name, delta in batch.counts.items():
                counts[name] = int(counts.get(name, 0)) + delta
            last = batch_records[-1]
            return _advance(
                repo, context.item, {"offset": last.end_offset, "next_line": last.next_line, "counts": counts}
            )
        except RetryableError:
            if attempt == BATCH_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, BATCH_BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")


def _advance(repo: RightsRepository, item: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
    """Saves `changes` if nobody else moved the import on since `item` was read; the new item, or None.

    The update names itself (`advanced_by`), so that when its commit's answer was lost and botocore's retry finds
    the generation moved, it knows the move as its own.
    """
    generation = int(item.get("generation", 0))
    mark = uuid.uuid4().hex
    updated = repo.update(
        item["pk"],
        item["sk"],
        {**changes, "generation": generation + 1, "advanced_by": mark},
        condition="generation = :g",
        values={":g": generation},
    )
    if updated is None:
        now = repo.get(item["pk"], item["sk"])
        if now is not None and now.get("advanced_by") == mark:
            return now
    return updated


def _verify_file(svc: Services, item: dict[str, Any]) -> FileProblem | None:
    """The whole file must be the one declared: same size, same SHA-256, and text rather than binary."""
    store = evidence_store(svc)
    if store.head(item["file"]["key"]) is None:
        return FileProblem.UPLOAD_MISSING
    digest, size = hashlib.sha256(), 0
    for chunk in store.stream(item["file"]["key"], None):
        if size == 0 and b"\x00" in chunk[:4096]:
            return FileProblem.NOT_TEXT
        digest.update(chunk)
        size += len(chunk)
    if size != int(item["file"]["size_bytes"]):
        return FileProblem.SIZE_MISMATCH
    if digest.hexdigest() != item["file"]["sha256"]:
        return FileProblem.CHECKSUM_MISMATCH
    return None


def _fail(svc: Services, item: dict[str, Any], problem: FileProblem) -> ImportStatus:
    updated = _advance(
        rights_repo(svc),
        item,
        {"status": ImportStatus.FAILED.value, "problem": problem.value, "completed_at": svc.clock().isoformat()},
    )
    if updated is not None:
        evidence_queue.request_import_file_deletion(
            item["tenant_id"], item["import_id"], reason=f"import_{problem.value}"
        )
        logger.warning("Import failed", extra={"import_id": item["import_id"], "problem": problem.value})
    return ImportStatus.FAILED


def _complete(svc: Services, item: dict[str, Any]) -> ImportStatus:
    declared_by = item.get("started_by") or item["declared_by"]
    audit.record(
        svc,
        audit.AuditActor(item["tenant_id"], declared_by["type"], declared_by.get("id")),
        audit.AuditAction.CONTACTS_IMPORTED,
        ("import", item["import_id"]),
        None,
        {"declaration_id": item["declaration_id"], **item["counts"]},
    )
    # The end first, then the CSV's deletion, which evidence_check honours only for a finished import. A worker that
    # dies in between leaves its message to be redelivered, and `process` queues the deletion then.
    completed = {"status": ImportStatus.COMPLETED.value, "completed_at": svc.clock().isoformat()}
    if _advance(rights_repo(svc), item, completed) is not None:
        evidence_queue.request_import_file_deletion(item["tenant_id"], item["import_id"], reason="import_completed")
    return ImportStatus.COMPLETED


# --- one batch of rows --------------------------------------------------------------------------------------


@dataclass
class _Row:
    row: ImportRow
    addresses: list[Address]
    wanted: list[tuple[str, Channel]]
    suppressed: list[str]


def _parse(context: _Context, record: Record, batch: _Batch) -> ImportRow | None:
    if record.text is None:
        batch.count("rows")
        batch.count("invalid")
        batch.issue(record.line, IssueKind.INVALID, record.problem or IssueCode.MALFORMED_ROW)
        return None
    if not record.text.strip():
        return None  # a blank line is not a row
    batch.count("rows")
    fields = split_fields(record.text, context.header.delimiter)
    tenant = context.catalog.tenant
    result = (
        validate_row(record.line, fields, context.header, tenant.country, tenant.custom_field_types())
        if fields is not None
        else IssueCode.MALFORMED_ROW
    )
    if isinstance(result, IssueCode | RowIssue):
        batch.count("invalid")
        code, detail = (result, None) if isinstance(result, IssueCode) else (result.code, result.detail)
        batch.issue(record.line, IssueKind.INVALID, code, detail)
        return None
    return result


def _apply(context: _Context, batch_records: list[Record]) -> _Batch:
    batch = _Batch()
    rows = [row for record in batch_records if (row := _parse(context, record, batch)) is not None]
    keys = context.keys
    addressed = [
        (
            row,
            [
                Address(kind, value, keys.blind_index(kind.value, value))
                for kind, value in ((AddressKind.EMAIL, row.email), (AddressKind.PHONE, row.phone))
                if value
            ],
        )
        for row in rows
    ]
    known = rights_repo(context.svc).addresses(
        context.tenant_id, [(a.kind.value, a.blind_index) for _, addresses in addressed for a in addresses]
    )
    today = context.svc.clock().date()
    new: list[_Row] = []
    existing: list[_Row] = []
    seen: set[tuple[str, str]] = set()
    for row, addresses in addressed:
        items = [known.get((a.kind.value, a.blind_index)) for a in addresses]
        owners = {item["contact_id"] for item in items if item and item.get("contact_id")}
        if len(owners) > 1:
            batch.count("skipped")
            batch.issue(row.line, IssueKind.SKIPPED, IssueCode.ADDRESS_CONFLICT)
            continue
        if is_minor(row.birth_date, context.catalog.tenant.country, today):
            batch.count("skipped")
            batch.issue(row.line, IssueKind.SKIPPED, IssueCode.MINOR)
            continue
        planned = _plan(context, row, addresses, items)
        if not planned.wanted:
            if planned.suppressed:
                batch.count("suppressed")
                batch.issue(row.line, IssueKind.SKIPPED, IssueCode.SUPPRESSED, "; ".join(planned.suppressed))
            else:
                batch.count("skipped")
                batch.issue(row.line, IssueKind.SKIPPED, IssueCode.NO_CHANNEL)
            continue
        address_keys = {(a.kind.value, a.blind_index) for a in addresses}
        if owners or address_keys & seen:
            existing.append(planned)  # written one by one, after this batch's new contacts
        else:
            new.append(planned)
        seen |= address_keys
    _create(context, new, batch)
    for planned in existing:
        _update(context, planned, batch)
    return batch


def _plan(context: _Context, row: ImportRow, addresses: list[Address], items: list[dict[str, Any] | None]) -> _Row:
    suppressions = {
        address.kind: (item or {}).get("suppressions") or {} for address, item in zip(addresses, items, strict=True)
    }
    wanted: list[tuple[str, Channel]] = []
    suppressed: list[str] = []
    for purpose_id in context.item["purposes"]:
        for channel in context.catalog.purposes[purpose_id].channels:
            kind = CHANNEL_ADDRESS[channel]
            if kind is None or kind not in suppressions:
                continue
            reason = suppression_reason(suppressions[kind], channel, purpose_id)
            if reason is not None:
                suppressed.append(f"{purpose_id}/{channel.value}: {reason.value}")
            else:
                wanted.append((purpose_id, channel))
    return _Row(row, addresses, wanted, suppressed)


def _basis(context: _Context, purpose_id: str) -> LegalBasis:
    """What the declaration states, else the purpose's default (`consent` for a marketing purpose)."""
    stated = context.item["declaration"].get("legal_basis")
    purpose = context.catalog.purposes[purpose_id]
    return recorded_basis(purpose.kind, purpose.default_legal_basis, LegalBasis(stated) if stated else None)


def _changes(context: _Context, row: ImportRow, pairs: list[tuple[str, Channel]]) -> list[StateChange]:
    declaration = context.item["declaration"]
    texts = context.item.get("texts") or {}
    return [
        StateChange(
            purpose_id,
            channel,
            EventType.IMPORT,
            ConsentStatus.GRANTED,
            _basis(context, purpose_id),
            declaration["source"],
            TextRef.model_validate(texts[purpose_id]) if purpose_id in texts else None,
            declaration_id=context.item["declaration_id"],
            request_id=_request_id(context, row),
        )
        for purpose_id, channel in pairs
    ]


def _profile(context: _Context, row: ImportRow) -> ContactProfile:
    return ContactProfile(
        email=row.email,
        phone=row.phone,
        first_name=row.first_name,
        last_name=row.last_name,
        birth_date=row.birth_date,
        locale=row.locale or context.item.get("locale"),
        custom_fields=row.custom_fields or None,
    )


def _evidence(context: _Context, row: ImportRow) -> Evidence:
    return Evidence(
        at=context.svc.clock(),
        note=f"Import {context.item['import_id']}, line {row.line}, declaration {context.item['declaration_id']}",
    )


def _create(context: _Context, planned: list[_Row], batch: _Batch) -> None:
    if not planned:
        return
    # One outcome per row: if its address was claimed meanwhile, the ledger decides again on the owner's log.
    outcomes: list[dict[str, Any]] = [{} for _ in planned]
    requests = [
        (
            ContactTarget(addresses=p.addresses, profile_updates=_profile(context, p.row), create_if_missing=True),
            _decider(context, p, outcome),
            _evidence(context, p.row),
        )
        for p, outcome in zip(planned, outcomes, strict=True)
    ]
    results = context.ledger.create_many(requests, context.actor)
    for p, result, outcome in zip(planned, results, outcomes, strict=True):
        _settle(p, bool(result.events), outcome, batch)


def _update(context: _Context, planned: _Row, batch: _Batch) -> None:
    outcome: dict[str, Any] = {}
    target = ContactTarget(addresses=planned.addresses, create_if_missing=True)
    target_profile = _profile(context, planned.row)

    def decide(contact: LoadedContact) -> list[StateChange]:
        changes = _decider(context, planned, outcome)(contact)
        # Fill in what the contact lacks; never overwrite what the person (or an earlier source) gave.
        missing = {
            name: value
            for name, value in target_profile.model_dump(exclude_none=True).items()
            if getattr(contact.profile, name) is None and name != CUSTOM_FIELDS_KEY
        }
        held = contact.profile.custom_fields or {}
        custom = {k: v for k, v in (target_profile.custom_fields or {}).items() if k not in held}
        if custom:
            missing[CUSTOM_FIELDS_KEY] = custom
        target.profile_updates = ContactProfile(**missing) if missing else None
        return changes

    result = context.ledger.write(target, decide, context.actor, _evidence(context, planned.row))
    _settle(planned, bool(result.events), outcome, batch)


def _decider(context: _Context, planned: _Row, outcome: dict[str, Any]) -> Callable[[LoadedContact], list[StateChange]]:
    def decide(contact: LoadedContact) -> list[StateChange]:
        outcome.clear()
        requests = (
            rights_repo(context.svc).declaration_requests(
                context.tenant_id, contact.contact_id, context.item["declaration_id"]
            )
            if contact.wrapped_key is None
            else set()
        )
        if requests:
            outcome["mine" if _request_id(context, planned.row) in requests else "duplicate"] = True
            return []
        pairs: list[tuple[str, Channel]] = []
        for purpose_id, channel in planned.wanted:
            current = contact.states.get((purpose_id, channel))
            if current is not None and current.status is ConsentStatus.WITHDRAWN:
                outcome.setdefault("withdrawn", []).append(f"{purpose_id}/{channel.value}")
            elif current is not None and current.status is ConsentStatus.PENDING_PARENTAL:
                outcome.setdefault("parental", []).append(f"{purpose_id}/{channel.value}")
            else:
                pairs.append((purpose_id, channel))
        return _changes(context, planned.row, pairs)

    return decide


def _request_id(context: _Context, row: ImportRow) -> str:
    return f"{context.item['import_id']}:{row.line}"


def _settle(planned: _Row, written: bool, outcome: dict[str, Any], batch: _Batch) -> None:
    line = planned.row.line
    written = written or bool(outcome.get("mine"))  # this row's own write, committed by an earlier try
    if outcome.get("duplicate"):
        batch.count("duplicates")
        batch.issue(line, IssueKind.SKIPPED, IssueCode.DUPLICATE)
        return
    withdrawn, parental = outcome.get("withdrawn", []), outcome.get("parental", [])
    if written:
        batch.count("imported")
        skipped = [*planned.suppressed, *(f"{p}: withdrawn" for p in withdrawn), *(f"{p}: parental" for p in parental)]
        if skipped:
            code = IssueCode.SUPPRESSED if planned.suppressed else IssueCode.PREVIOUSLY_WITHDRAWN
            batch.issue(line, IssueKind.SKIPPED, code, "; ".join(skipped))
        return
    batch.count("skipped")
    if withdrawn:
        batch.issue(line, IssueKind.SKIPPED, IssueCode.PREVIOUSLY_WITHDRAWN, "; ".join(withdrawn))
    else:
        batch.issue(line, IssueKind.SKIPPED, IssueCode.PENDING_PARENTAL, "; ".join(parental))
