"""Admin: data-subject rights and evidence. Exports, erasure, the consent form report, evidence files, imports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.api.responses import html_response
from samtykke.domain.access import Permission, Principal
from samtykke.domain.uploads import OwnerKind
from samtykke.models.rights import (
    ErasureResult,
    EvidenceFile,
    ExportLink,
    ImportCreate,
    ImportIssues,
    ImportList,
    ImportView,
    UploadSlot,
)
from samtykke.services import consent_form, contacts, erasure, evidence, export, imports
from samtykke.services.audit import client_ip
from samtykke.services.context import services

router = Router()

Format = Annotated[
    Literal["json", "html"], Query(description="`json` (machine-readable, Art. 20) or `html` (human-readable)")
]
Email = Annotated[str | None, Query(max_length=320, description="Find the person by email address")]
Phone = Annotated[str | None, Query(max_length=32, description="Find the person by phone number")]
ContentType = Annotated[
    str, Query(max_length=100, description="`image/png`, `image/jpeg` or `application/pdf`; nothing else")
]
SizeBytes = Annotated[int, Query(ge=1, description="The file's exact size in bytes (at most 10 MiB)")]
Sha256 = Annotated[str, Query(pattern=r"^[0-9a-f]{64}$", description="The file's SHA-256, lowercase hex")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` from the previous page")]
Limit = Annotated[int, Query(ge=1, le=500)]

EXPORT_DESCRIPTION = (
    "The person's every stored field (sensitive ones only with `sensitive:read`), current consents, every consent "
    "event with its evidence and evidence files (presigned links, valid 15 minutes), the chain check, "
    "suppressions and sends. `format=html` gives a readable page. An export larger than 5 MB is written to the "
    "evidence bucket instead and answered with an `ExportLink` (`download_url`, valid 15 minutes). Audited."
)


def _principal() -> Principal:
    return current_principal(router)


def _ip() -> str | None:
    return client_ip(router.current_event)


EXPORT_RESPONSES: dict[int, Any] = {
    200: {
        "description": "The export document (`export_version` 1) or its HTML page; for a big export, an `ExportLink`",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"type": "object", "title": "ExportDocument", "required": ["export_version", "contact"]},
                        ExportLink.model_json_schema(),
                    ]
                }
            },
            "text/html": {"schema": {"type": "string"}},
        },
    },
}
HTML_RESPONSE: dict[int, Any] = {
    200: {"description": "A printable HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
}


def _export(contact_id: str, fmt: str) -> Response[str]:
    result = export.export_contact(services(), _principal(), contact_id, fmt=fmt, ip=_ip())
    if isinstance(result, ExportLink):
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=result.model_dump_json())
    if fmt == "html":
        return html_response(200, result.body)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=result.body)


@router.get(
    "/v1/admin/contacts/export",
    summary="Export a person's data, found by email or phone (GDPR Art. 15/20)",
    description=EXPORT_DESCRIPTION,
    tags=["data-subject rights"],
    responses=EXPORT_RESPONSES,
    **guarded(Permission.CONTACTS_EXPORT),
)
def export_by_address(email: Email = None, phone: Phone = None, format: Format = "json") -> Response[str]:
    contact_id = contacts.find_contact_id(services(), _principal().tenant_id, email=email, phone=phone)
    return _export(contact_id, format)


@router.get(
    "/v1/admin/contacts/<contact_id>/export",
    summary="Export a person's data (GDPR Art. 15/20)",
    description=EXPORT_DESCRIPTION,
    tags=["data-subject rights"],
    responses=EXPORT_RESPONSES,
    **guarded(Permission.CONTACTS_EXPORT),
)
def export_contact(contact_id: str, format: Format = "json") -> Response[str]:
    return _export(contact_id, format)


@router.post(
    "/v1/admin/contacts/<contact_id>/erase",
    summary="Erase a person by anonymisation (GDPR Art. 17)",
    description="Suppresses the person's addresses (reason `erased`: only a keyed hash of each address remains), "
    "withdraws every consent with an `erase` event, removes the addresses' pointers, crypto-shreds the contact "
    "(its key and sealed profile are deleted; a tombstone keeps statistics and the hash chain intact) and deletes "
    "its evidence files through the governance-mode bypass. Idempotent: erasing again answers `already_erased`. "
    "Audited. There is no body.",
    tags=["data-subject rights"],
    **guarded(Permission.CONTACTS_ERASE),
)
def erase_contact(contact_id: str) -> ErasureResult:
    return erasure.erase_contact(services(), _principal(), contact_id, ip=_ip())


@router.get(
    "/v1/admin/contacts/<contact_id>/consent-form",
    summary="The person's consent form, a printable page",
    description="Current consents per purpose and channel with legal basis (the tenant's labels), source, date "
    "and the exact consent text shown, then the privacy policy and the sub-processors with agreement dates.",
    tags=["data-subject rights"],
    responses=HTML_RESPONSE,
    **guarded(Permission.CONTACTS_EXPORT),
)
def get_consent_form(
    contact_id: str, locale: Annotated[str | None, Query(pattern=r"^[a-z]{2}$")] = None
) -> Response[str]:
    page = consent_form.consent_form(services(), _principal(), contact_id, locale=locale, ip=_ip())
    return html_response(200, page)


@router.post(
    "/v1/admin/contacts/<contact_id>/events/<event_id>/evidence",
    summary="Attach an evidence file (screenshot or PDF) to a consent event",
    description="Declare the file in the query string; there is no body. Answers a presigned PUT: send the file "
    "with exactly the returned headers. After the upload the file's SHA-256, size and type (by its magic bytes) "
    "are checked: a mismatch deletes it and flags it `rejected`. The event itself never changes.",
    tags=["evidence"],
    **guarded(Permission.EVIDENCE_WRITE),
)
def attach_event_evidence(
    contact_id: str, event_id: str, content_type: ContentType, size_bytes: SizeBytes, sha256: Sha256
) -> tuple[UploadSlot, int]:
    principal = _principal()
    slot = evidence.request_event_upload(
        services(),
        principal.tenant_id,
        contact_id,
        event_id,
        content_type=content_type,
        size_bytes=size_bytes,
        sha256=sha256,
        actor_id=principal.principal_id,
    )
    return slot, 201


@router.get(
    "/v1/admin/contacts/<contact_id>/evidence",
    summary="A contact's evidence files and their check status",
    tags=["evidence"],
    **guarded(Permission.EVIDENCE_READ),
)
def list_contact_evidence(contact_id: str) -> list[EvidenceFile]:
    svc, tenant_id = services(), _principal().tenant_id
    contacts.require_contact(svc, tenant_id, contact_id)
    files = evidence.files_of(svc, tenant_id, OwnerKind.CONTACT, contact_id)
    return [evidence.file_view(f) for f in files]


@router.post(
    "/v1/admin/imports",
    summary="Declare a lawful import and get the CSV's upload URL",
    description="The declaration (source, legal basis, description) is required: without it the import is refused "
    "with 422 `declaration_required`. Answers the import with a presigned PUT for the CSV (`text/csv`, the "
    "declared size and SHA-256). Upload it, optionally attach screenshots to the declaration, then start it.",
    tags=["imports"],
    **guarded(Permission.CONTACTS_IMPORT),
)
def create_import(new: Annotated[ImportCreate, Body()]) -> tuple[ImportView, int]:
    return imports.create_import(services(), _principal(), new), 201


@router.get("/v1/admin/imports", summary="The tenant's imports", tags=["imports"], **guarded(Permission.IMPORTS_READ))
def list_imports(cursor: Cursor = None, limit: Limit = 50) -> ImportList:
    return imports.list_imports(services(), _principal().tenant_id, limit=limit, cursor=cursor)


@router.get(
    "/v1/admin/imports/<import_id>",
    summary="An import's status and progress",
    description="Status, lines and bytes read so far, and the counts: imported, invalid, suppressed, skipped, "
    "duplicates. The rows behind the last four are listed by `/issues`.",
    tags=["imports"],
    **guarded(Permission.IMPORTS_READ),
)
def get_import(import_id: str) -> ImportView:
    return imports.import_view(services(), _principal().tenant_id, import_id)


@router.post(
    "/v1/admin/imports/<import_id>/start",
    summary="Start processing an uploaded import",
    description="202: the import is queued. Starting it again while it runs is harmless. There is no body.",
    tags=["imports"],
    **guarded(Permission.CONTACTS_IMPORT),
)
def start_import(import_id: str) -> tuple[ImportView, int]:
    return imports.start_import(services(), _principal(), import_id, ip=_ip()), 202


@router.get(
    "/v1/admin/imports/<import_id>/issues",
    summary="An import's bad and skipped rows, by line number",
    description="Each row that was not (fully) imported: its line number (the header is line 1), whether it was "
    "`invalid` or `skipped`, and the reason. Never the row's address.",
    tags=["imports"],
    **guarded(Permission.IMPORTS_READ),
)
def get_import_issues(import_id: str, cursor: Cursor = None, limit: Limit = 200) -> ImportIssues:
    return imports.import_issues(services(), _principal().tenant_id, import_id, limit=limit, cursor=cursor)


@router.post(
    "/v1/admin/imports/<import_id>/evidence",
    summary="Attach an evidence file (screenshot or PDF) to an import's declaration",
    description="As for a consent event: declare the file in the query string, PUT it to the returned URL.",
    tags=["imports", "evidence"],
    **guarded(Permission.EVIDENCE_WRITE),
)
def attach_declaration_evidence(
    import_id: str, content_type: ContentType, size_bytes: SizeBytes, sha256: Sha256
) -> tuple[UploadSlot, int]:
    principal = _principal()
    slot = evidence.request_declaration_upload(
        services(),
        principal.tenant_id,
        import_id,
        content_type=content_type,
        size_bytes=size_bytes,
        sha256=sha256,
        actor_id=principal.principal_id,
    )
    return slot, 201
