"""Admin: campaigns. Create, dry-run, send (202, then the fan-out runs), follow the progress, reconcile."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.api.request import http_event, public_base_url
from samtykke.domain.access import Permission
from samtykke.models.campaign import (
    Campaign,
    CampaignChannel,
    CampaignCreate,
    CampaignList,
    CampaignReconciled,
    DryRunReport,
    SendAccepted,
)
from samtykke.services import campaign_reconciler, campaigns
from samtykke.services.context import services

router = Router()

CAMPAIGN_PATH = "/v1/admin/campaigns/<campaign_id>"


@router.post(
    "/v1/admin/campaigns",
    summary="Create a campaign",
    description="A draft: purpose, channel (email or sms), per-locale content with merge fields, an optional "
    "segment. Unknown merge fields get 422 `unknown_merge_field`. A `transactional` campaign skips marketing consent "
    "(never hard-bounce, complaint or erasure suppression), needs a `justification` of at least 20 characters, and "
    "only it may switch the unsubscribe link off; both are audited.",
    tags=["campaigns"],
    **guarded(Permission.CAMPAIGNS_WRITE),
)
def create_campaign(new: Annotated[CampaignCreate, Body()]) -> tuple[Campaign, int]:
    return campaigns.create_campaign(services(), current_principal(router), new), 201


@router.get(
    "/v1/admin/campaigns",
    summary="The tenant's campaigns, newest first",
    description="Cursor-paged: pass the answer's `next_cursor` as `cursor` until it is null. Filters: `purpose`, "
    "`channel`. A filtered page may hold fewer than `limit` campaigns while more follow.",
    tags=["campaigns"],
    **guarded(Permission.CAMPAIGNS_READ),
)
def list_campaigns(
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` from the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    purpose: Annotated[str | None, Query(max_length=63, examples=["e-marketing"])] = None,
    channel: Annotated[CampaignChannel | None, Query()] = None,
) -> CampaignList:
    return campaigns.list_campaigns(
        services(),
        current_principal(router).tenant_id,
        limit=limit,
        cursor=cursor,
        purpose=purpose,
        channel=channel.value if channel else None,
    )


@router.get(
    CAMPAIGN_PATH,
    summary="A campaign, its status and its counts as the send progresses",
    description="`status`: draft, dispatching, sending, done. `counts`: queued, sent, skipped (by reason), failed, "
    "minors, bounced, complaints. `progress` is the share of queued recipients processed.",
    tags=["campaigns"],
    **guarded(Permission.CAMPAIGNS_READ),
)
def get_campaign(campaign_id: str) -> Campaign:
    return campaigns.get_campaign(services(), current_principal(router).tenant_id, campaign_id)


@router.post(
    f"{CAMPAIGN_PATH}/dry-run",
    summary="Who a send would include, who it would exclude and why, and the fine exposure; sends nothing",
    description="Counts every contact with any consent state for the campaign's purpose and channel, through the "
    "same filter the sender applies. `fine_exposure`: what messaging the excluded (no consent, withdrawn, pending, "
    "suppressed, erased) would have risked, at the tenant's rate or its country's (DK: 150 kr per recipient, at "
    "least 10,000 kr).",
    tags=["campaigns"],
    **guarded(Permission.CAMPAIGNS_READ),
)
def dry_run(campaign_id: str) -> DryRunReport:
    return campaigns.dry_run(services(), current_principal(router).tenant_id, campaign_id)


@router.post(
    f"{CAMPAIGN_PATH}/send",
    summary="Send the campaign: 202 at once, then the fan-out runs",
    description="Each recipient is checked again when their message goes out, so an unsubscribe during the "
    "campaign stops it. A second send gets 409 `campaign_already_sent`. Follow `status_url`.",
    tags=["campaigns"],
    **guarded(Permission.CAMPAIGNS_SEND),
)
def send_campaign(campaign_id: str) -> tuple[SendAccepted, int]:
    event = http_event(router)
    accepted = campaigns.request_send(
        services(),
        current_principal(router),
        campaign_id,
        base_url=public_base_url(event),
        ip=event.request_context.http.source_ip,
        status_url=f"/v1/admin/campaigns/{campaign_id}",
    )
    return accepted, 202


@router.post(
    f"{CAMPAIGN_PATH}/reconcile",
    summary="Reconcile the campaign now: re-queue sends stranded by a dead worker, resume a stalled dispatch",
    description="What the 5-minute schedule does, for this campaign at once. A claim whose worker's lease ran out "
    "before it recorded a send is queued to the sender again, which decides it again now and sends or skips it, "
    "once. A dispatch without progress for 15 minutes is queued again from where it stopped. A campaign whose "
    "recipients are all sent, skipped or failed is marked `done`. Safe to repeat.",
    tags=["campaigns"],
    **guarded(Permission.CAMPAIGNS_SEND),
)
def reconcile_campaign(campaign_id: str) -> CampaignReconciled:
    return campaign_reconciler.reconcile_campaign(services(), current_principal(router).tenant_id, campaign_id)
