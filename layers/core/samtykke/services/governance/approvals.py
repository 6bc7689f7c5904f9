"""Four eyes on a campaign without an unsubscribe link: a second staff member approves it before it may be sent.

The creator's request is audited when the campaign is created (`campaign.transactional_created`, with
`unsubscribe_link: false`); the approval here, by a different staff user, is audited as
`campaign.unsubscribe_off_approved`. `services/campaigns.request_send` refuses such a campaign until then
(409 `approval_required`).
"""

from __future__ import annotations

from typing import Any

from samtykke.adapters.campaign_repository import CampaignRepository
from samtykke.domain.access import Principal
from samtykke.domain.campaigns import CampaignStatus
from samtykke.domain.errors import Conflict, Forbidden
from samtykke.services.audit.requests import note_change, note_target
from samtykke.services.context import Services

APPROVED_BY = "unsubscribe_off_approved_by"


class FourEyesRequired(Forbidden):
    code = "four_eyes_required"


class ApprovalRequired(Conflict):
    code = "approval_required"


class NothingToApprove(Conflict):
    code = "nothing_to_approve"


def needs_approval(item: dict[str, Any]) -> bool:
    return not item.get("unsubscribe_link", True) and not item.get(APPROVED_BY)


def require_approval(item: dict[str, Any]) -> None:
    """The send's check: a campaign without an unsubscribe link goes out only once a second person approved it."""
    if needs_approval(item):
        raise ApprovalRequired("A second staff member must approve sending without an unsubscribe link first")


def approve_unsubscribe_off(svc: Services, principal: Principal, item: dict[str, Any]) -> dict[str, Any]:
    tenant_id, campaign_id = principal.tenant_id, str(item["campaign_id"])
    note_target("campaign", campaign_id)
    if item.get("unsubscribe_link", True):
        raise NothingToApprove("This campaign keeps its unsubscribe link: there is nothing to approve")
    if not principal.is_staff or principal.principal_id == item.get("created_by"):
        raise FourEyesRequired("Another staff member than the campaign's author must approve this, in person")
    if item.get(APPROVED_BY):
        return item
    approval = {APPROVED_BY: principal.principal_id, "unsubscribe_off_approved_at": svc.clock().isoformat()}
    repo = CampaignRepository(svc.settings.table_name)
    draft = CampaignStatus.DRAFT.value
    if not repo.set_status(tenant_id, campaign_id, expected=draft, new=draft, changes=approval):
        raise Conflict("This campaign has been sent already", code="campaign_already_sent")
    requested = {"requested_by": item.get("created_by")}
    note_change(svc, tenant_id, {APPROVED_BY: None, "requested_by": None}, {**approval, **requested})
    return {**item, **approval}
