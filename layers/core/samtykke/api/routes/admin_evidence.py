"""The anchored consent log, for staff: sign a checkpoint now, and audit the table against the latest one."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from samtykke.api.auth import current_principal, guarded
from samtykke.domain.access import Permission
from samtykke.services.context import services
from samtykke.services.evidence_log.checkpoints import audit_latest

router = Router()


@router.get(
    "/v1/admin/evidence/audit",
    summary="Check every contact of the latest signed checkpoint against the table",
    description="For each of the tenant's contacts that the latest checkpoint covers: is the contact still there, "
    "does its log still lead to the anchored head, does its head match its log? Each problem names the contact, a "
    "stable code (`contact_missing`, `anchored_event_missing`, `rewritten`, `tail_missing`, `hash_mismatch`…) "
    "and the first sequence number it puts in doubt (docs/evidence.md).",
    tags=["evidence"],
    responses={
        200: {
            "description": "`{checkpoint_id, contacts_checked, problems}`",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    **guarded(Permission.AUDIT_READ),
)
def audit() -> Response[str]:
    report = audit_latest(services(), current_principal(router).tenant_id)
    return Response(200, content_types.APPLICATION_JSON, json.dumps(report))
