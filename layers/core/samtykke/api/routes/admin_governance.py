"""Admin: governance a DPO signs off: the audit log's export, staff acting for a person, do-not-contact,
suppressions. (The audit log itself is read at `GET /v1/admin/audit`, api/routes/admin_staff.py.)"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.api.params import live_input
from samtykke.domain.access import Permission
from samtykke.domain.audit import AuditAction
from samtykke.domain.consent import AddressKind, Channel
from samtykke.domain.errors import InvalidInput
from samtykke.domain.suppression import SuppressionReason
from samtykke.models.audit import AuditExport, AuditExportRequest
from samtykke.models.campaign import Campaign
from samtykke.models.staff_consent import (
    DoNotContactAdd,
    DoNotContactEntry,
    StaffConsentChange,
    StaffConsentResult,
)
from samtykke.models.suppressions import (
    MAX_PAGE,
    PURPOSE_PATTERN,
    AddressSuppressions,
    SuppressionLift,
    SuppressionLifted,
    SuppressionList,
    SuppressionLookup,
)
from samtykke.services import audit
from samtykke.services.audit.export import export_month
from samtykke.services.context import services
from samtykke.services.evidence import evidence_store

router = Router()
DOWNLOAD_SECONDS = 900


@router.post(
    "/v1/admin/audit/exports",
    summary="Export a month of the audit log as JSONL to the Object-Locked bucket",
    description="One line per entry, oldest first: each entry's canonical JSON record as it was hashed, so the "
    "month's chain can be checked offline (docs/staff-and-audit.md). The file is kept in COMPLIANCE mode. A daily "
    "schedule also writes each day's file.",
    tags=["audit"],
    **guarded(Permission.AUDIT_READ, audit=AuditAction.AUDIT_EXPORTED),
)
def export_audit(request: Annotated[AuditExportRequest, Body()]) -> tuple[AuditExport, int]:
    svc = services()
    written = export_month(svc, current_principal(router).tenant_id, request.month)
    url = evidence_store(svc).presign_get(
        written.key, version_id=written.version_id, expires_in=DOWNLOAD_SECONDS, filename=written.key.rsplit("/")[-1]
    )
    export = AuditExport(
        key=written.key,
        entries=written.entries,
        first_seq=written.first_seq,
        last_hash=written.last_hash,
        download_url=url,
    )
    return export, 201


@router.post(
    "/v1/admin/campaigns/<campaign_id>/approve-unsubscribe-off",
    summary="Approve sending a transactional campaign without an unsubscribe link (four eyes)",
    description="By a staff member other than the campaign's author; until then its send answers 409 "
    "`approval_required`. Both people are in the audit log.",
    tags=["campaigns"],
    **guarded(Permission.CAMPAIGNS_SEND, audit=AuditAction.UNSUBSCRIBE_OFF_APPROVED),
)
def approve_unsubscribe_off(campaign_id: str) -> Campaign:
    from samtykke.services import campaigns
    from samtykke.services.governance import approvals

    svc, principal = services(), current_principal(router)
    item = campaigns.load_campaign(svc, principal.tenant_id, campaign_id)
    return campaigns.campaign_view(approvals.approve_unsubscribe_off(svc, principal, item))


@router.post(
    "/v1/admin/contacts/<contact_id>/consents",
    summary="Record a person's grant, withdrawal or legal-basis change on their behalf (phone, letter, in person)",
    description="Through the consent log, with the staff member as actor, the source and a required note as "
    "evidence; audited as `consent.changed_by_staff`. A marketing purpose rests on `consent` only.",
    tags=["contacts"],
    **live_input(guarded(Permission.CONSENTS_WRITE), "the id of a live contact"),
)
def record_consent(contact_id: str, change: Annotated[StaffConsentChange, Body()]) -> tuple[StaffConsentResult, int]:
    from samtykke.services.governance.staff_consents import record_for_contact

    ip = audit.client_ip(router.current_event)
    return record_for_contact(services(), current_principal(router), contact_id, change, ip=ip), 201


def _address(email: str | None, phone: str | None) -> tuple[AddressKind, str]:
    if bool(email) == bool(phone):
        raise InvalidInput("Give exactly one of `email` and `phone`", code="one_address_required")
    return (AddressKind.EMAIL, str(email)) if email else (AddressKind.PHONE, str(phone))


@router.get(
    "/v1/admin/do-not-contact",
    summary="The do-not-contact list, as blind-index hashes",
    tags=["do not contact"],
    **guarded(Permission.CONTACTS_SEARCH),
)
def list_do_not_contact() -> list[DoNotContactEntry]:
    from samtykke.services.governance import do_not_contact

    entries = do_not_contact.list_entries(services(), current_principal(router).tenant_id)
    return [DoNotContactEntry.model_validate(e) for e in entries]


@router.post(
    "/v1/admin/do-not-contact",
    summary="Put an address on the do-not-contact list: no send or import reaches it, transactional included",
    tags=["do not contact"],
    **guarded(Permission.CONSENTS_WRITE, audit=AuditAction.DO_NOT_CONTACT_ADDED),
)
def add_do_not_contact(entry: Annotated[DoNotContactAdd, Body()]) -> tuple[DoNotContactEntry, int]:
    from samtykke.services.governance import do_not_contact

    kind, address = _address(entry.email, entry.phone)
    added = do_not_contact.add(services(), current_principal(router), kind, address, entry.note)
    return DoNotContactEntry.model_validate(added), 201


@router.delete(
    "/v1/admin/do-not-contact",
    summary="Take an address off the do-not-contact list (give the address: `email` or `phone`)",
    tags=["do not contact"],
    **guarded(Permission.CONSENTS_WRITE, audit=AuditAction.DO_NOT_CONTACT_REMOVED),
)
def remove_do_not_contact(
    email: Annotated[str | None, Query(max_length=254)] = None,
    phone: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, bool]:
    from samtykke.services.governance import do_not_contact

    kind, address = _address(email, phone)
    do_not_contact.remove(services(), current_principal(router), kind, address)
    return {"removed": True}


@router.get(
    "/v1/admin/suppressions",
    summary="The tenant's suppressed addresses, with each suppression's reason, by blind-index hash",
    description="Unsubscribes, STOPs, hard bounces, complaints, erasures and do-not-contact entries, a page at a "
    "time in hash order. `channel`, `purpose` (`*`: only those of every purpose) and `reason` narrow it; a filtered "
    "page may hold fewer than `limit` addresses while more follow. Pass `next_cursor` as `cursor` until it is null. "
    "A page that names contacts is audited (`contact.read`).",
    tags=["suppressions"],
    **guarded(Permission.CONTACTS_SEARCH),
)
def list_suppressions(
    channel: Annotated[Channel | None, Query()] = None,
    purpose: Annotated[str | None, Query(pattern=rf"{PURPOSE_PATTERN}|^\*$", examples=["e-marketing"])] = None,
    reason: Annotated[SuppressionReason | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` from the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> SuppressionList:
    from samtykke.services.governance import suppressions

    where = suppressions.SuppressionFilter(channel=channel, purpose=purpose, reason=reason.value if reason else None)
    tenant_id = current_principal(router).tenant_id
    return suppressions.list_suppressions(services(), tenant_id, where, limit=limit, cursor=cursor)


@router.post(
    "/v1/admin/suppressions/lookup",
    summary="Whether one address is suppressed, and why (the address in the body, never in the URL)",
    description="`email` or `phone`. Each suppression says whether staff may lift it (`lift_refusal`: null, or the "
    "code a lift would answer). Audited as `contact.read`, found or not.",
    tags=["suppressions"],
    **guarded(Permission.CONTACTS_SEARCH),
)
def lookup_suppressions(request: Annotated[SuppressionLookup, Body()]) -> AddressSuppressions:
    from samtykke.services.governance import suppressions

    kind, address = _address(request.email, request.phone)
    ip = audit.client_ip(router.current_event)
    return suppressions.lookup(services(), current_principal(router), kind, address, ip=ip)


@router.post(
    "/v1/admin/suppressions/lift",
    summary="Lift a suppression where its reason allows it: staff only, with a note",
    description="A hard bounce or a manual suppression: yes. A complaint (409 `complaint_needs_new_consent`), an "
    "unsubscribe or an SMS STOP (409 `new_grant_required`): only once the person gave a new consent after it. An "
    "erasure (409 `erasure_not_liftable`) never; a do-not-contact entry through its list (409 "
    "`lift_through_do_not_contact_list`). Idempotent: a retry answers `already_lifted: true`. Audited as "
    "`suppression.lifted` with the note and the record before.",
    tags=["suppressions"],
    **live_input(
        guarded(Permission.CONSENTS_WRITE, audit=AuditAction.SUPPRESSION_LIFTED),
        "a staff session and an address with a liftable suppression",
    ),
)
def lift_suppression(request: Annotated[SuppressionLift, Body()]) -> SuppressionLifted:
    from samtykke.services.governance import suppressions

    kind, address = _address(request.email, request.phone)
    ip = audit.client_ip(router.current_event)
    principal = current_principal(router)
    return suppressions.lift(
        services(), principal, kind, address, request.channel, request.purpose, request.note, ip=ip
    )
