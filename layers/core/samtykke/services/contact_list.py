"""The admin contacts list: a tenant's contacts a page at a time, filtered, and every page's readers audited.

Without a purpose it pages the directory index (every contact, oldest first); with `purpose` (and `channel` when
the purpose has more than one) it pages that purpose's consent states by contact id, optionally only those with
`status`. `created_from`/`created_to` and `name_prefix` narrow either. Names are sealed, so the name filter runs on
the decrypted page: a filtered page may hold fewer than `limit` contacts while more follow.

Each page that names contacts is recorded in the audit log (`contacts.listed`) with their ids before it is returned;
a page whose audit write fails is not returned. Addresses are masked for roles without `addresses:read` by the
response shaping every admin answer goes through (api/shaping.py).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from samtykke.adapters.contact_directory import CANDIDATES_INDEX, DIRECTORY_INDEX, ContactDirectory, directory_pk
from samtykke.adapters.repository import PROFILE, candidates_pk, contact_pk
from samtykke.adapters.rights_repository import RightsRepository
from samtykke.domain.access import Principal
from samtykke.domain.consent import ConsentStatus
from samtykke.domain.errors import BadRequest, InvalidInput
from samtykke.models.consent import ContactList, ContactListItem
from samtykke.services import audit
from samtykke.services.context import Services
from samtykke.services.ledger import open_profile

MAX_PAGE = 50  # the audit entry names every contact of a page, and keeps at most 50 ids
LISTED = "contacts.listed"


@dataclass(frozen=True)
class ContactFilter:
    purpose: str | None = None
    channel: str | None = None
    status: ConsentStatus | None = None
    created_from: date | None = None
    created_to: date | None = None
    name_prefix: str | None = None

    def as_details(self) -> dict[str, Any]:
        values = {
            "purpose": self.purpose,
            "channel": self.channel,
            "status": self.status.value if self.status else None,
            "created_from": self.created_from.isoformat() if self.created_from else None,
            "created_to": self.created_to.isoformat() if self.created_to else None,
            "name_prefix": bool(self.name_prefix) or None,  # that a name filter was used, never the name
        }
        return {name: value for name, value in values.items() if value is not None}


def list_contacts(
    svc: Services, principal: Principal, where: ContactFilter, *, limit: int, cursor: str | None, ip: str | None
) -> ContactList:
    tenant_id = principal.tenant_id
    index, partition, equals, between = _source(svc, tenant_id, where)
    start = decode_index_cursor(cursor, index, partition)
    page = ContactDirectory(svc.repo.table_name).page(
        index, partition, limit=max(1, min(limit, MAX_PAGE)), start=start, sort_between=between, equals=equals
    )
    statuses = {row["contact_id"]: row.get("status") for row in page.rows}
    contacts = [
        item.model_copy(update={"status": ConsentStatus(str(statuses[item.contact_id]))}) if where.purpose else item
        for item in _open(svc, tenant_id, list(statuses))
        if _matches(item, where)
    ]
    if contacts:
        details = {"contact_ids": [item.contact_id for item in contacts], "filters": where.as_details()}
        audit.record(svc, principal, LISTED, ("contacts", f"{len(contacts)} contacts"), ip, details)
    return ContactList(contacts=contacts, next_cursor=encode_index_cursor(page.last_key, index, partition))


def _source(
    svc: Services, tenant_id: str, where: ContactFilter
) -> tuple[str, str, dict[str, str], tuple[str, str] | None]:
    """The index and partition to page, the filter on its rows, and the sort-key range."""
    if where.purpose is None:
        if where.status is not None or where.channel is not None:
            raise InvalidInput(
                "`status` and `channel` filter a purpose's contacts: give `purpose`", code="purpose_required"
            )
        if where.created_from is None and where.created_to is None:
            return DIRECTORY_INDEX, directory_pk(tenant_id), {}, None
        low = where.created_from.isoformat() if where.created_from else "0"  # below every ISO date
        high = (where.created_to + timedelta(days=1)).isoformat() if where.created_to else "\uffff"
        return DIRECTORY_INDEX, directory_pk(tenant_id), {}, (low, high)
    purpose = svc.catalogs.get(tenant_id).purposes.get(where.purpose)
    if purpose is None:
        raise InvalidInput(f"No purpose '{where.purpose}'", code="unknown_purpose")
    channels = [channel.value for channel in purpose.channels]
    channel = where.channel or (channels[0] if len(channels) == 1 else None)
    if channel is None or channel not in channels:
        raise InvalidInput(f"Give a `channel` of the purpose: one of {', '.join(channels)}", code="channel_required")
    equals = {"status": where.status.value} if where.status else {}
    return CANDIDATES_INDEX, candidates_pk(tenant_id, where.purpose, channel), equals, None


def _open(svc: Services, tenant_id: str, contact_ids: list[str]) -> list[ContactListItem]:
    """The page's contacts, in the page's order, decrypted; erased contacts are left out."""
    if not contact_ids:
        return []
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    found = RightsRepository(svc.repo.table_name).batch_get([(contact_pk(tenant_id, c), PROFILE) for c in contact_ids])
    items = []
    for contact_id in contact_ids:
        item = found.get((contact_pk(tenant_id, contact_id), PROFILE))
        if item is None or item.get("erased"):
            continue
        profile = open_profile(keys.contact_box(contact_id, item["wrapped_key"]), item.get("profile"))
        items.append(
            ContactListItem(
                contact_id=contact_id,
                email=profile.email,
                phone=profile.phone,
                first_name=profile.first_name,
                last_name=profile.last_name,
                locale=profile.locale,
                created_at=item["created_at"],
            )
        )
    return items


def _matches(item: ContactListItem, where: ContactFilter) -> bool:
    created = item.created_at.date()
    if (where.created_from and created < where.created_from) or (where.created_to and created > where.created_to):
        return False
    if where.name_prefix:
        prefix = where.name_prefix.casefold()
        names = [item.first_name or "", item.last_name or "", f"{item.first_name or ''} {item.last_name or ''}"]
        return any(name.casefold().startswith(prefix) for name in names if name.strip())
    return True


def encode_index_cursor(last_key: dict[str, Any] | None, index: str, partition: str) -> str | None:
    if last_key is None:
        return None
    raw = json.dumps({"i": index, "p": partition, "k": last_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_index_cursor(cursor: str | None, index: str, partition: str) -> dict[str, Any] | None:
    """The start key a cursor holds; only a cursor this list gave out, for these filters, is taken."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API gave out", code="invalid_cursor") from exc
    key = value.get("k") if isinstance(value, dict) else None
    if (
        not isinstance(key, dict)
        or value.get("i") != index
        or value.get("p") != partition
        or not all(isinstance(v, str) for v in key.values())
        or key.get({DIRECTORY_INDEX: "gsi3pk", CANDIDATES_INDEX: "gsi2pk"}[index]) != partition
    ):
        raise BadRequest("The cursor is not one this API gave out, for this list", code="invalid_cursor")
    return key
