"""Admin: governance a DPO signs off: the audit log's export, staff acting for a person, do-not-contact,
suppressions. (The audit log itself is read at `GET /v1/admin/audit`, api/routes/admin_staff.py.)"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from samtykke.api.auth import current_principal, guarded
from samtykke.domain.access import Permission
from samtykke.domain.audit import AuditAction
from samtykke.models.audit import AuditExport, AuditExportRequest
from samtykke.models.campaign import Campaign
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
