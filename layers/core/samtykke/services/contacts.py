"""Finding a person by address, and reading back everything the log holds on them."""

from __future__ import annotations

from typing import Any

from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.repository import contact_pk
from samtykke.domain.addresses import normalise_email, normalise_phone
from samtykke.domain.consent import AddressKind
from samtykke.domain.errors import InvalidInput
from samtykke.domain.ledger import first_broken_link
from samtykke.models.consent import ConsentEvent, ConsentLog, ConsentState, ContactSummary
from samtykke.services.catalog import strip_keys
from samtykke.services.context import Services
from samtykke.services.ledger import ContactNotFound, open_evidence, open_profile


def _keys(svc: Services, tenant_id: str) -> TenantKeys:
    catalog = svc.catalogs.get(tenant_id)
    return svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)


def find_contact_id(svc: Services, tenant_id: str, *, email: str | None, phone: str | None) -> str:
    if bool(email) == bool(phone):
        raise InvalidInput("Search by exactly one of email or phone", code="one_search_key_required")
    keys = _keys(svc, tenant_id)
    if email:
        kind, value = AddressKind.EMAIL, normalise_email(email)
    else:
        kind, value = AddressKind.PHONE, normalise_phone(phone or "", svc.catalogs.get(tenant_id).tenant.country)
    contact_id = svc.repo.find_contact_id(tenant_id, kind.value, keys.blind_index(kind.value, value))
    if contact_id is None:
        raise ContactNotFound("No contact has that address")
    return contact_id


def require_contact(svc: Services, tenant_id: str, contact_id: str) -> None:
    """404 unless the tenant has this contact (and it is not erased): one GetItem, no decryption."""
    profile = svc.repo.get(contact_pk(tenant_id, contact_id), "PROFILE")
    if profile is None or profile.get("erased"):
        raise ContactNotFound("No such contact")


def _load(svc: Services, tenant_id: str, contact_id: str) -> tuple[TenantKeys, dict[str, Any], list[dict[str, Any]]]:
    keys = _keys(svc, tenant_id)
    items = svc.repo.load_contact(tenant_id, contact_id)
    profile = next((i for i in items if i["sk"] == "PROFILE"), None)
    if profile is None or profile.get("erased"):
        raise ContactNotFound("No such contact")
    return keys, profile, items


def consent_log(svc: Services, tenant_id: str, contact_id: str) -> ConsentLog:
    """The person's whole consent history, oldest first, with decrypted evidence and a chain check."""
    keys, profile, items = _load(svc, tenant_id, contact_id)
    box = keys.contact_box(contact_id, profile["wrapped_key"])
    records = [strip_keys(i) for i in items if i["sk"].startswith("EVENT#")]
    events = [
        ConsentEvent.model_validate(
            {**record, "evidence": open_evidence(box, record["event_id"], record.get("evidence"))}
        )
        for record in records
    ]
    return ConsentLog(contact_id=contact_id, chain_intact=first_broken_link(records) is None, events=events)


def contact_summary(svc: Services, tenant_id: str, contact_id: str) -> ContactSummary:
    keys, profile_item, items = _load(svc, tenant_id, contact_id)
    profile = open_profile(keys.contact_box(contact_id, profile_item["wrapped_key"]), profile_item.get("profile"))
    return ContactSummary(
        contact_id=contact_id,
        email=profile.email,
        phone=profile.phone,
        first_name=profile.first_name,
        last_name=profile.last_name,
        national_id=profile.national_id,
        locale=profile.locale,
        custom_fields=profile.custom_fields,
        created_at=profile_item["created_at"],
        consents=[ConsentState.model_validate(strip_keys(i)) for i in items if i["sk"].startswith("STATE#")],
    )
