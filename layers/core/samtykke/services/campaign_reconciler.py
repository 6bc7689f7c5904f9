"""Reconciling campaigns: nobody stays claimed and unsent, no campaign stays `sending` with nothing in flight.

The sender's claims make a send happen at most once; this makes it happen at least once. Run on a schedule
(`campaign_reconciler`, every 5 minutes, over every active campaign) and on demand for one campaign
(`POST /v1/admin/campaigns/{id}/reconcile`). For each campaign it:
1. resumes a dispatch that made no progress for longer than a dispatch step can take (its message was lost, or the
   send request died between accepting the send and queueing it): the step is queued again from the recorded
   position, and the dispatcher's page check makes a duplicate harmless;
2. reads the campaign's live claims from the sparse `audience` index (`T#{tenant}#INFLIGHT#{campaign}`), re-reads
   each strongly, and queues the stale ones (lease over, no send recorded: their worker died) to the sender again
   under their own chunk id. The sender takes each over once, decides it again *now*, and sends it or records it
   skipped, so a withdrawal in the meantime is honoured;
3. writes `done` (and takes the campaign off the active list) once every queued recipient is sent, skipped or failed.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from samtykke.adapters import campaign_queues
from samtykke.adapters.campaign_repository import ACTIVE_CAMPAIGNS, AUDIENCE_INDEX, CampaignRepository, inflight_pk
from samtykke.domain.campaigns import CHUNK_SIZE, CampaignNotFound, CampaignStatus, current_status
from samtykke.domain.work import ClaimStanding, standing
from samtykke.models.campaign import CampaignReconciled, DispatchStep, RecipientChunk
from samtykke.observability import logger
from samtykke.services.campaigns import CAMPAIGN_ID_PATTERN, counts_of
from samtykke.services.context import Services

# Longer than the dispatch queue's visibility timeout (720 s): a step still being worked on is never queued twice.
DISPATCH_STALL = timedelta(seconds=900)
MIN_TIME_LEFT_MS = 10_000
NOBODY = ""  # the owner a reconciler reads claims as: it owns none of them


def reconcile_campaign(svc: Services, tenant_id: str, campaign_id: str) -> CampaignReconciled:
    repo = CampaignRepository(svc.settings.table_name)
    item = repo.get(tenant_id, campaign_id) if re.fullmatch(CAMPAIGN_ID_PATTERN, campaign_id) else None
    if item is None:
        raise CampaignNotFound("No such campaign")
    stored = CampaignStatus(item["status"])
    report = CampaignReconciled(
        campaign_id=campaign_id, status=stored, stale_claims=0, requeued_chunks=0, in_flight=0, dispatch_resumed=False
    )
    if stored in (CampaignStatus.DRAFT, CampaignStatus.DONE):
        return report
    now = svc.clock()
    if not item.get("dispatch_done") and _stalled(item.get("dispatch_at"), now):
        start = item.get("dispatch_start_key")
        step = DispatchStep(
            tenant_id=tenant_id,
            campaign_id=campaign_id,
            page=int(item.get("dispatch_page", 0)),
            start_key=json.loads(start) if start else None,
        )
        campaign_queues.enqueue_dispatch(step.model_dump())
        report.dispatch_resumed = True

    members = list(repo.index_members(AUDIENCE_INDEX, inflight_pk(tenant_id, campaign_id)))
    claims = repo.batch_get((str(m["pk"]), str(m["sk"])) for m in members)  # the index lags; the table decides
    stale: dict[str, list[str]] = defaultdict(list)
    for claim in claims.values():
        found = standing(claim, NOBODY, now.timestamp())
        if found is ClaimStanding.STALE:
            stale[str(claim.get("chunk"))].append(str(claim["contact_id"]))
        elif found is ClaimStanding.IN_FLIGHT:
            report.in_flight += 1
    chunks = [
        RecipientChunk(tenant_id=tenant_id, campaign_id=campaign_id, chunk=chunk, contacts=ids[i : i + CHUNK_SIZE])
        for chunk, ids in sorted(stale.items())
        for i in range(0, len(ids), CHUNK_SIZE)
    ]
    if chunks:
        campaign_queues.enqueue_chunks([c.model_dump() for c in chunks])
    report.stale_claims = sum(len(ids) for ids in stale.values())
    report.requeued_chunks = len(chunks)

    counts, processed = counts_of(item)
    shown = current_status(
        stored, dispatch_done=bool(item.get("dispatch_done")), queued=counts.queued, processed=processed
    )
    if shown is CampaignStatus.DONE and repo.finish(tenant_id, campaign_id, expected=stored.value, at=now.isoformat()):
        report.status = CampaignStatus.DONE
    if report.stale_claims or report.dispatch_resumed:
        logger.warning("Campaign reconciled", extra=report.model_dump(mode="json"))
    return report


def reconcile_all(svc: Services, *, time_left_ms: Callable[[], int]) -> list[CampaignReconciled]:
    """Reconciles every active campaign (the `audience` index's `CAMPAIGNS#ACTIVE` partition), while time lasts."""
    repo = CampaignRepository(svc.settings.table_name)
    reports = []
    for member in repo.index_members(AUDIENCE_INDEX, ACTIVE_CAMPAIGNS):
        if time_left_ms() < MIN_TIME_LEFT_MS:
            break  # the next run goes on from the start of the list
        tenant_id, _, campaign_id = str(member["gsi1sk"]).rpartition("#")
        try:
            reports.append(reconcile_campaign(svc, tenant_id, campaign_id))
        except CampaignNotFound:
            continue
    return reports


def _stalled(last_progress: object, now: datetime) -> bool:
    if not isinstance(last_progress, str) or not last_progress:
        return True
    return now - datetime.fromisoformat(last_progress) > DISPATCH_STALL
