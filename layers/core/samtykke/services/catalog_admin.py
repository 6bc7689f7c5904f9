"""Tenant-maintained catalogue: purposes (deactivated, never deleted), sources, basis labels, texts, settings.

Every change bumps the tenant's configuration counter, so every container reloads it on its next request, and
notes its before/after values for the request's audit entry (`services/audit/requests.py`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from samtykke.adapters.repository import META, AlreadyExists, tenant_pk
from samtykke.domain.consent import LegalBasis
from samtykke.domain.custom_fields import check_declarations
from samtykke.domain.errors import Conflict, InvalidInput, NotFound
from samtykke.domain.purposes import PurposeKind, check_default_basis, kind_of
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
from samtykke.models.tenant import REDACTABLE_PROFILE_FIELDS, Tenant, TenantSettingsUpdate
from samtykke.services.audit.requests import note_change
from samtykke.services.catalog import TenantCatalog, strip_keys
from samtykke.services.context import Services
from samtykke.services.tenants import text_item

MAX_TEXT_VERSION_ATTEMPTS = 3


class PurposeNotFound(NotFound):
    code = "purpose_not_found"


class SourceNotFound(NotFound):
    code = "source_not_found"


def _catalog(svc: Services, tenant_id: str) -> TenantCatalog:
    return svc.catalogs.get(tenant_id)


def _changes(update: BaseModel) -> dict[str, Any]:
    return update.model_dump(mode="json", exclude_unset=True)


def _create(svc: Services, tenant_id: str, item: dict[str, Any], what: str) -> None:
    try:
        svc.repo.put_new(item)
    except AlreadyExists as exc:
        raise Conflict(f"{what} already exists", code="already_exists") from exc
    svc.catalogs.invalidate(tenant_id)


def _update(
    svc: Services, tenant_id: str, sk: str, changes: dict[str, Any], before: BaseModel | None
) -> dict[str, Any] | None:
    if not changes:  # `{}`: a valid patch that changes nothing
        item = svc.repo.get(tenant_pk(tenant_id), sk, consistent=True)
        return None if item is None else strip_keys(item)
    item = svc.repo.update_existing(tenant_pk(tenant_id), sk, changes)
    svc.catalogs.invalidate(tenant_id)
    if item is None:
        return None
    after = strip_keys(item)
    old = before.model_dump(mode="json") if before is not None else {}
    note_change(svc, tenant_id, {k: old.get(k) for k in changes}, {k: after.get(k) for k in changes})
    return after


# --- purposes ------------------------------------------------------------------------------------------


def list_purposes(svc: Services, tenant_id: str) -> list[Purpose]:
    return list(_catalog(svc, tenant_id).purposes.values())


def get_purpose(svc: Services, tenant_id: str, purpose_id: str) -> Purpose:
    purpose = _catalog(svc, tenant_id).purposes.get(purpose_id)
    if purpose is None:
        raise PurposeNotFound(f"No purpose '{purpose_id}'")
    return purpose


def create_purpose(svc: Services, tenant_id: str, new: PurposeCreate) -> Purpose:
    now = svc.clock()
    purpose = Purpose(**new.model_dump(), active=True, created_at=now, updated_at=now)
    item = {"pk": tenant_pk(tenant_id), "sk": f"PURPOSE#{new.purpose_id}", **purpose.model_dump(mode="json")}
    _create(svc, tenant_id, item, f"Purpose '{new.purpose_id}'")
    return purpose


def update_purpose(svc: Services, tenant_id: str, purpose_id: str, update: PurposeUpdate) -> Purpose:
    changes = _changes(update) | {"updated_at": svc.clock().isoformat()}
    before = _catalog(svc, tenant_id).purposes.get(purpose_id)
    if before is not None:
        changes |= _kind_changes(before, changes)
    item = _update(svc, tenant_id, f"PURPOSE#{purpose_id}", changes, before)
    if item is None:
        raise PurposeNotFound(f"No purpose '{purpose_id}'")
    return Purpose.model_validate(item)


def _kind_changes(before: Purpose, changes: dict[str, Any]) -> dict[str, Any]:
    """`kind` and the old `marketing` flag kept in step; a marketing purpose's basis stays `consent`."""
    if "kind" in changes:
        kind = PurposeKind(changes["kind"])
    elif changes.get("marketing") is not None:
        kind = kind_of(None, bool(changes["marketing"]))
    else:
        kind = before.kind
    check_default_basis(kind, LegalBasis(changes.get("default_legal_basis") or before.default_legal_basis))
    return {"kind": kind.value, "marketing": kind is PurposeKind.MARKETING}


# --- sources -------------------------------------------------------------------------------------------


def list_sources(svc: Services, tenant_id: str) -> list[Source]:
    return list(_catalog(svc, tenant_id).sources.values())


def create_source(svc: Services, tenant_id: str, new: SourceCreate) -> Source:
    source = Source(source_id=new.source_id, label=new.label, public=new.public)
    item = {"pk": tenant_pk(tenant_id), "sk": f"SOURCE#{new.source_id}", **source.model_dump(mode="json")}
    _create(svc, tenant_id, item, f"Source '{new.source_id}'")
    return source


def update_source(svc: Services, tenant_id: str, source_id: str, update: SourceUpdate) -> Source:
    before = _catalog(svc, tenant_id).sources.get(source_id)
    item = _update(svc, tenant_id, f"SOURCE#{source_id}", _changes(update), before)
    if item is None:
        raise SourceNotFound(f"No source '{source_id}'")
    return Source.model_validate(item)


# --- legal-basis labels --------------------------------------------------------------------------------


def list_legal_bases(svc: Services, tenant_id: str) -> list[LegalBasisLabel]:
    return _catalog(svc, tenant_id).legal_basis_labels()


def set_legal_basis_label(
    svc: Services, tenant_id: str, code: LegalBasis, update: LegalBasisLabelUpdate
) -> LegalBasisLabel:
    before = {b.code.value: b.label for b in _catalog(svc, tenant_id).legal_basis_labels()}.get(code.value)
    item = {"pk": tenant_pk(tenant_id), "sk": f"BASIS#{code.value}", "code": code.value, "label": update.label}
    svc.repo.put(item)
    svc.catalogs.invalidate(tenant_id)
    note_change(svc, tenant_id, {"label": before}, {"label": update.label})
    return LegalBasisLabel(code=code, label=update.label)


# --- consent texts -------------------------------------------------------------------------------------


def list_texts(svc: Services, tenant_id: str, purpose_id: str | None, locale: str | None) -> list[ConsentText]:
    catalog = _catalog(svc, tenant_id)
    return [
        text
        for (purpose, text_locale), versions in sorted(catalog.texts.items())
        if (purpose_id is None or purpose == purpose_id) and (locale is None or text_locale == locale)
        for text in versions
    ]


def add_text_version(svc: Services, tenant_id: str, new: ConsentTextCreate) -> ConsentText:
    """Appends the next version. Versions are immutable: a change is always a new version."""
    get_purpose(svc, tenant_id, new.purpose_id)
    for _ in range(MAX_TEXT_VERSION_ATTEMPTS):
        svc.catalogs.forget(tenant_id)
        current = _catalog(svc, tenant_id).text(new.purpose_id, new.locale)
        version = 1 if current is None else current.version + 1
        item = text_item(tenant_id, new.purpose_id, new.locale, version, new.text, svc.clock().isoformat())
        try:
            svc.repo.put_new(item)
        except AlreadyExists:
            continue  # another writer took this version number; take the next one
        svc.catalogs.invalidate(tenant_id)
        return ConsentText.model_validate(strip_keys(item))
    raise Conflict("Consent text is being changed concurrently; retry", code="concurrent_update")


# --- tenant settings -----------------------------------------------------------------------------------


def get_settings(svc: Services, tenant_id: str) -> Tenant:
    return _catalog(svc, tenant_id).tenant


def _check_field_settings(update: TenantSettingsUpdate) -> None:
    unknown = sorted(set(update.sensitive_fields or ()) - REDACTABLE_PROFILE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Not a built-in profile field: {', '.join(unknown)}; a custom field is made sensitive by its declaration",
            code="unknown_sensitive_field",
        )
    check_declarations(field.name for field in update.custom_fields or ())


def update_settings(svc: Services, tenant_id: str, update: TenantSettingsUpdate) -> Tenant:
    _check_field_settings(update)
    before = _catalog(svc, tenant_id).tenant
    item = _update(svc, tenant_id, META, _changes(update), before)
    if item is None:
        raise NotFound("No such tenant", code="tenant_not_found")
    return Tenant.model_validate(item)
