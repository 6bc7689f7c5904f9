"""The suppression API: the tenant's suppressed addresses with their reasons, one address's, and a staff lift.

Suppressions live on the address item, by blind index (domain/suppression.py). Every address item that was ever
suppressed is listed in the `directory` index under `T#{tenant}#SUPPRESSED` (adapters/repository.py), which the
list pages through; it shows blind-index hashes and contact ids, never an address. A lookup is given the address
in the request body and records a `contact.read` entry, found or not, as a search by address does.

A lift (`lift`) is a staff member's, with a note, where the reason allows it (`domain.suppression.lift_refusal`:
never a complaint without a new consent). It removes the suppression only if it is still the record the decision
was made on, and keeps a `LIFT#{key}` item beside the address for 90 days, in the same transaction, so a retry
answers `already_lifted` instead of 404. Each lift, a retry's too, is audited as `suppression.lifted`: who, the
note, and the record before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from samtykke.adapters.contact_directory import DIRECTORY_INDEX, ContactDirectory
from samtykke.adapters.repository import address_pk, lift_sk, suppressed_pk
from samtykke.adapters.rights_repository import RightsRepository
from samtykke.domain.access import Principal
from samtykke.domain.audit import AuditAction
from samtykke.domain.consent import AddressKind, Channel, ConsentStatus, EventType
from samtykke.domain.errors import Conflict, InvalidInput, NotFound, RetryableError
from samtykke.domain.suppression import LoggedChange, lift_refusal, split_key, suppression_key
from samtykke.models.suppressions import MAX_PAGE, AddressSuppressions, Suppression, SuppressionLifted, SuppressionList
from samtykke.services import audit
from samtykke.services.audit.requests import note_change
from samtykke.services.contact_list import decode_index_cursor, encode_index_cursor
from samtykke.services.context import Services
from samtykke.services.governance.do_not_contact import CHANNELS, blind_index_of
from samtykke.services.staff import StaffOnly

LIFT_KEPT = timedelta(days=90)
ATTEMPTS = 3


class NotSuppressed(NotFound):
    code = "not_suppressed"


@dataclass(frozen=True)
class SuppressionFilter:
    channel: Channel | None = None
    purpose: str | None = None  # `*`: only suppressions of every purpose
    reason: str | None = None

    def matches(self, view: Suppression) -> bool:
        purpose = view.purpose or "*"
        return (
            (self.channel is None or view.channel is self.channel)
            and (self.purpose is None or self.purpose == purpose)
            and (self.reason is None or self.reason == view.reason)
        )


def _views(item: dict[str, Any] | None, log: list[LoggedChange] | None = None) -> list[Suppression]:
    """The address item's suppressions, in key order; with the contact's log, each one's lift refusal."""
    views = []
    for key, record in sorted(((item or {}).get("suppressions") or {}).items()):
        try:
            channel, purpose = split_key(key)
        except ValueError:
            continue  # not a channel we know: nothing any send would check
        refusal = lift_refusal(key, record, log) if log is not None else None
        views.append(
            Suppression(
                channel=channel,
                purpose=purpose,
                reason=str(record.get("reason")),
                at=record.get("at"),
                source=record.get("source"),
                detail=record.get("detail"),
                lift_refusal=refusal.code if refusal else None,
            )
        )
    return views


def list_suppressions(
    svc: Services, tenant_id: str, where: SuppressionFilter, *, limit: int, cursor: str | None
) -> SuppressionList:
    partition = suppressed_pk(tenant_id)
    start = decode_index_cursor(cursor, DIRECTORY_INDEX, partition)
    page = ContactDirectory(svc.repo.table_name).page(
        DIRECTORY_INDEX, partition, limit=max(1, min(limit, MAX_PAGE)), start=start
    )
    keys = [(str(row["pk"]), str(row["sk"])) for row in page.rows]
    found = RightsRepository(svc.repo.table_name).batch_get(keys)
    addresses = []
    for row, key in zip(page.rows, keys, strict=True):
        views = [view for view in _views(found.get(key)) if where.matches(view)]
        if views:  # an address whose suppressions were all lifted stays in the index, empty
            kind, _, blind = str(row["gsi3sk"]).partition("#")
            contact_id = (found.get(key) or {}).get("contact_id")
            addresses.append(
                AddressSuppressions(kind=kind, hash=blind, contact_id=contact_id, suppressed=True, suppressions=views)
            )
    return SuppressionList(
        addresses=addresses, next_cursor=encode_index_cursor(page.last_key, DIRECTORY_INDEX, partition)
    )


def _log(svc: Services, tenant_id: str, contact_id: str | None) -> list[LoggedChange]:
    """The contact's consent events, in order, as the lift rules read them."""
    if not contact_id:
        return []
    return [
        LoggedChange(
            purpose=str(item["purpose"]),
            channel=Channel(item["channel"]),
            type=EventType(item["type"]),
            status=ConsentStatus(item["status"]),
            at=datetime.fromisoformat(str(item["at"])),
        )
        for item in svc.repo.load_contact(tenant_id, contact_id)
        if str(item["sk"]).startswith("EVENT#")
    ]


def _target(kind: AddressKind, blind: str, contact_id: str | None) -> tuple[str, str]:
    return ("contact", contact_id) if contact_id else ("suppression", f"{kind.value}#{blind}")


def lookup(
    svc: Services, principal: Principal, kind: AddressKind, address: str, *, ip: str | None
) -> AddressSuppressions:
    tenant_id = principal.tenant_id
    blind = blind_index_of(svc, tenant_id, kind, address)
    item = svc.repo.get_address(tenant_id, kind.value, blind)
    contact_id = (item or {}).get("contact_id")
    views = _views(item, _log(svc, tenant_id, contact_id))
    # A lookup by address reads it, found or not; the entry is written before the answer leaves.
    details = {"lookup": kind.value, "suppressed": bool(views)}
    audit.record(svc, principal, AuditAction.CONTACT_READ, _target(kind, blind, contact_id), ip, details)
    return AddressSuppressions(
        kind=kind.value, hash=blind, contact_id=contact_id, suppressed=bool(views), suppressions=views
    )


def lift(
    svc: Services,
    principal: Principal,
    kind: AddressKind,
    address: str,
    channel: Channel,
    purpose: str | None,
    note: str,
    *,
    ip: str | None,
) -> SuppressionLifted:
    if not principal.is_staff:
        raise StaffOnly("A suppression is lifted by a staff member, signed in, with a note")
    if channel not in CHANNELS[kind]:
        raise InvalidInput(
            f"A {kind.value} address is not suppressed on {channel.value}", code="channel_not_for_address"
        )
    tenant_id, key = principal.tenant_id, suppression_key(channel, purpose)
    blind = blind_index_of(svc, tenant_id, kind, address)
    for _ in range(ATTEMPTS):
        item = svc.repo.get_address(tenant_id, kind.value, blind)
        contact_id = (item or {}).get("contact_id")
        record = ((item or {}).get("suppressions") or {}).get(key)
        if record is None:
            earlier = svc.repo.get(address_pk(tenant_id, kind.value, blind), lift_sk(key), consistent=True)
            if earlier is None:
                raise NotSuppressed(f"This address has no {key} suppression")
            return _lifted(svc, principal, kind, blind, contact_id, key, earlier, note, ip, already=True)
        refusal = lift_refusal(key, record, _log(svc, tenant_id, contact_id))
        if refusal is not None:
            raise Conflict(refusal.message, code=refusal.code)
        now = svc.clock()
        done = {
            "record": record,
            "lifted_by": principal.principal_id,
            "lifted_at": now.isoformat(),
            "expires_at": int((now + LIFT_KEPT).timestamp()),
        }
        if svc.repo.lift_address_suppression(tenant_id, kind.value, blind, key, record, done):
            note_change(svc, tenant_id, {key: record}, {key: None}, prefix="suppressions.")
            return _lifted(svc, principal, kind, blind, contact_id, key, done, note, ip, already=False)
        # the suppression changed since it was read (a new bounce): decide again on the new record
    raise RetryableError("The address changed concurrently; retry", code="contention")


def _lifted(
    svc: Services,
    principal: Principal,
    kind: AddressKind,
    blind: str,
    contact_id: str | None,
    key: str,
    done: dict[str, Any],
    note: str,
    ip: str | None,
    *,
    already: bool,
) -> SuppressionLifted:
    channel, purpose = split_key(key)
    record: dict[str, Any] = done.get("record") or {}
    details = {
        "note": note,
        "channel": channel.value,
        "purpose": purpose or "*",
        "reason": record.get("reason"),
        "suppressed_at": record.get("at"),
        "already_lifted": already,
        "lifted_by": done.get("lifted_by"),
    }
    audit.record(svc, principal, AuditAction.SUPPRESSION_LIFTED, _target(kind, blind, contact_id), ip, details)
    return SuppressionLifted(
        kind=kind.value,
        hash=blind,
        contact_id=contact_id,
        channel=channel,
        purpose=purpose,
        reason=str(record.get("reason")),
        lifted_at=str(done.get("lifted_at")),
        lifted_by=str(done.get("lifted_by")),
        already_lifted=already,
    )
