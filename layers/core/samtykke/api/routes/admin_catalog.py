"""Admin: purposes, sources, legal-basis labels, consent texts and tenant settings."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.api.paging import Cursor, Limit, page, paged_doc
from samtykke.domain.access import Permission
from samtykke.domain.audit import AuditAction
from samtykke.domain.consent import LegalBasis
from samtykke.domain.errors import Conflict
from samtykke.models.catalog import (
    ConsentText,
    ConsentTextCreate,
    LegalBasisLabel,
    LegalBasisLabelUpdate,
    Purpose,
    PurposeCreate,
    PurposeUpdate,
    Source,
    SourceCreate,
    SourceUpdate,
)
from samtykke.models.tenant import Tenant, TenantSettingsUpdate
from samtykke.services import catalog_admin
from samtykke.services.context import services

router = Router()
READ = guarded(Permission.CATALOG_READ)
WRITE = guarded(Permission.CATALOG_WRITE)


def _tenant() -> str:
    return current_principal(router).tenant_id


@router.get(
    "/v1/admin/purposes",
    summary="List purposes, active and deactivated, by id",
    tags=["purposes"],
    responses=paged_doc("The purposes"),
    **READ,
)
def list_purposes(limit: Limit = None, cursor: Cursor = None) -> Response[str]:
    rows = catalog_admin.list_purposes(services(), _tenant())
    return page(router, rows, lambda p: p.purpose_id, limit=limit, cursor=cursor)


@router.post("/v1/admin/purposes", summary="Create a purpose", tags=["purposes"], **WRITE)
def create_purpose(new: Annotated[PurposeCreate, Body()]) -> tuple[Purpose, int]:
    return catalog_admin.create_purpose(services(), _tenant(), new), 201


@router.get("/v1/admin/purposes/<purpose_id>", summary="Get a purpose", tags=["purposes"], **READ)
def get_purpose(purpose_id: str) -> Purpose:
    return catalog_admin.get_purpose(services(), _tenant(), purpose_id)


@router.patch(
    "/v1/admin/purposes/<purpose_id>",
    summary="Change or deactivate a purpose",
    description="Set `active: false` to deactivate. Purposes are never deleted, so that history keeps its meaning.",
    tags=["purposes"],
    **WRITE,
)
def update_purpose(purpose_id: str, update: Annotated[PurposeUpdate, Body()]) -> Purpose:
    return catalog_admin.update_purpose(services(), _tenant(), purpose_id, update)


@router.delete(
    "/v1/admin/purposes/<purpose_id>",
    summary="Purposes cannot be deleted",
    description="Always 409 `purposes_are_never_deleted`: deactivate with PATCH `active: false` instead.",
    tags=["purposes"],
    **WRITE,
)
def delete_purpose(purpose_id: str) -> None:
    catalog_admin.get_purpose(services(), _tenant(), purpose_id)
    raise Conflict("Deactivate the purpose instead of deleting it", code="purposes_are_never_deleted")


@router.get(
    "/v1/admin/sources", summary="List sources, by id", tags=["sources"], responses=paged_doc("The sources"), **READ
)
def list_sources(limit: Limit = None, cursor: Cursor = None) -> Response[str]:
    rows = catalog_admin.list_sources(services(), _tenant())
    return page(router, rows, lambda s: s.source_id, limit=limit, cursor=cursor)


@router.post("/v1/admin/sources", summary="Create a source", tags=["sources"], **WRITE)
def create_source(new: Annotated[SourceCreate, Body()]) -> tuple[Source, int]:
    return catalog_admin.create_source(services(), _tenant(), new), 201


@router.patch("/v1/admin/sources/<source_id>", summary="Change or deactivate a source", tags=["sources"], **WRITE)
def update_source(source_id: str, update: Annotated[SourceUpdate, Body()]) -> Source:
    return catalog_admin.update_source(services(), _tenant(), source_id, update)


@router.get("/v1/admin/legal-bases", summary="The legal bases with the tenant's labels", tags=["legal bases"], **READ)
def list_legal_bases() -> list[LegalBasisLabel]:
    return catalog_admin.list_legal_bases(services(), _tenant())


@router.put("/v1/admin/legal-bases/<code>", summary="Set a legal basis's label", tags=["legal bases"], **WRITE)
def set_legal_basis_label(code: LegalBasis, update: Annotated[LegalBasisLabelUpdate, Body()]) -> LegalBasisLabel:
    return catalog_admin.set_legal_basis_label(services(), _tenant(), code, update)


@router.get(
    "/v1/admin/consent-texts",
    summary="List consent text versions: the history, by purpose, locale and version",
    tags=["consent texts"],
    responses=paged_doc("The text versions"),
    **READ,
)
def list_texts(
    purpose: Annotated[str | None, Query(examples=["e-marketing"])] = None,
    locale: Annotated[str | None, Query(examples=["da"])] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> Response[str]:
    rows = catalog_admin.list_texts(services(), _tenant(), purpose, locale)
    return page(router, rows, lambda t: f"{t.purpose_id}\x00{t.locale}\x00{t.version:010d}", limit=limit, cursor=cursor)


@router.post(
    "/v1/admin/consent-texts",
    summary="Add a consent text version",
    description="Appends the next version for the purpose and locale. Versions are immutable.",
    tags=["consent texts"],
    **WRITE,
)
def add_text(new: Annotated[ConsentTextCreate, Body()]) -> tuple[ConsentText, int]:
    return catalog_admin.add_text_version(services(), _tenant(), new), 201


@router.get(
    "/v1/admin/settings", summary="The tenant's settings", tags=["settings"], **guarded(Permission.SETTINGS_READ)
)
def get_settings() -> Tenant:
    return catalog_admin.get_settings(services(), _tenant())


@router.patch(
    "/v1/admin/settings",
    summary="Change the tenant's settings",
    tags=["settings"],
    **guarded(Permission.SETTINGS_WRITE, audit=AuditAction.SETTINGS_UPDATED),
)
def update_settings(update: Annotated[TenantSettingsUpdate, Body()]) -> Tenant:
    return catalog_admin.update_settings(services(), _tenant(), update)
