"""The do-not-contact list: addresses staff were told never to message, on any purpose or channel.

An entry is a suppression (`do_not_contact`, which even a transactional send respects) on every channel of the
address, kept on the address's blind index, so every send and every import already honours it
(domain/suppression.py), and it outlives erasure. The list itself holds only the blind-index hashes
(`pk=T#{tenant}#DNC`, `sk={kind}#{hash}`): it never shows the address; look one up by giving it.
"""

from __future__ import annotations

from typing import Any

from samtykke.adapters.staff_repository import StaffRepository
from samtykke.domain.access import Principal
from samtykke.domain.addresses import normalise_email, normalise_phone
from samtykke.domain.consent import AddressKind, Channel
from samtykke.domain.errors import NotFound
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.services.audit.requests import note_target
from samtykke.services.context import Services

CHANNELS: dict[AddressKind, tuple[Channel, ...]] = {
    AddressKind.EMAIL: (Channel.EMAIL,),
    AddressKind.PHONE: (Channel.SMS, Channel.PHONE),
}


class NotOnList(NotFound):
    code = "not_on_do_not_contact_list"


def _pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#DNC"


def blind_index_of(svc: Services, tenant_id: str, kind: AddressKind, address: str) -> str:
    catalog = svc.catalogs.get(tenant_id)
    value = normalise_email(address) if kind is AddressKind.EMAIL else normalise_phone(address, catalog.tenant.country)
    return svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob).blind_index(kind.value, value)


def _suppress(svc: Services, tenant_id: str, kind: AddressKind, blind: str, record: dict[str, Any] | None) -> None:
    for channel in CHANNELS[kind]:
        svc.repo.set_address_suppression(tenant_id, kind.value, blind, suppression_key(channel), record)


def add(svc: Services, principal: Principal, kind: AddressKind, address: str, note: str) -> dict[str, Any]:
    blind = blind_index_of(svc, principal.tenant_id, kind, address)
    at = svc.clock().isoformat()
    record = {"reason": SuppressionReason.DO_NOT_CONTACT.value, "at": at, "source": "do-not-contact"}
    _suppress(svc, principal.tenant_id, kind, blind, record)
    entry = {"kind": kind.value, "hash": blind, "added_at": at, "added_by": principal.principal_id, "note": note}
    StaffRepository(svc.repo.table_name).put({"pk": _pk(principal.tenant_id), "sk": f"{kind.value}#{blind}", **entry})
    note_target("do_not_contact", f"{kind.value}#{blind}")
    return entry


def remove(svc: Services, principal: Principal, kind: AddressKind, address: str) -> None:
    blind = blind_index_of(svc, principal.tenant_id, kind, address)
    repo = StaffRepository(svc.repo.table_name)
    note_target("do_not_contact", f"{kind.value}#{blind}")
    if repo.get(_pk(principal.tenant_id), f"{kind.value}#{blind}") is None:
        raise NotOnList("That address is not on the do-not-contact list")
    _suppress(svc, principal.tenant_id, kind, blind, None)
    repo.delete(_pk(principal.tenant_id), f"{kind.value}#{blind}")


def list_entries(svc: Services, tenant_id: str) -> list[dict[str, Any]]:
    fields = ("kind", "hash", "added_at", "added_by", "note")
    return [{k: i.get(k) for k in fields} for i in StaffRepository(svc.repo.table_name).query(_pk(tenant_id))]
