"""Fanning a campaign out: page through its audience and queue the recipients, 50 to a message, 10 messages a call.

A marketing campaign pages the sparse `audience` index (only granted consents are in it); a transactional one pages
the `candidates` index (every consent state), since it needs no marketing consent. Either way the sender decides
again for each contact at send time.

Each dispatch step is one message on the dispatch queue, naming the campaign, a page number and where to go on from.
Pages are numbered, and the campaign item records the next page expected: a step whose page is not the expected one
is a duplicate and does nothing, and of two copies of the same step only the first to record its page counts its
recipients (the sender's per-contact claims make any recipient queued twice harmless). When the function's time
runs short it queues the next step and returns, so a campaign of any size fits Lambda's time limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from samtykke.adapters import campaign_queues
from samtykke.adapters.campaign_repository import AUDIENCE_INDEX, CANDIDATES_INDEX, CampaignRepository
from samtykke.adapters.repository import audience_pk, candidates_pk
from samtykke.domain.campaigns import CHUNK_SIZE, CampaignStatus
from samtykke.models.campaign import DispatchStep, RecipientChunk
from samtykke.observability import logger
from samtykke.services.context import Services
from samtykke.services.recipients import CampaignPlan

# Time kept in hand to finish a page (one Query, up to ~12 SendMessageBatch calls) and queue the next step.
RESERVE_MS = 20_000
# Items per Query page; None lets DynamoDB fill each page to 1 MB (the floor on calls). Tests set it small.
PAGE_LIMIT: int | None = None


class DispatchOutcome(StrEnum):
    DONE = "done"  # the whole audience is queued
    CONTINUED = "continued"  # the next step is queued
    STALE = "stale"  # a duplicate or late step: nothing to do


@dataclass(frozen=True)
class DispatchResult:
    outcome: DispatchOutcome
    pages: int
    queued: int


def index_partition(plan: CampaignPlan) -> tuple[str, str]:
    """The index and partition whose members are the campaign's audience."""
    if plan.transactional:
        return CANDIDATES_INDEX, candidates_pk(plan.tenant_id, plan.purpose, plan.channel.value)
    return AUDIENCE_INDEX, audience_pk(plan.tenant_id, plan.purpose, plan.channel.value)


def chunks(step: DispatchStep, page: int, contact_ids: list[str]) -> list[RecipientChunk]:
    return [
        RecipientChunk(
            tenant_id=step.tenant_id,
            campaign_id=step.campaign_id,
            chunk=f"{page}-{index}",
            contacts=contact_ids[start : start + CHUNK_SIZE],
        )
        for index, start in enumerate(range(0, len(contact_ids), CHUNK_SIZE))
    ]


def dispatch(svc: Services, step: DispatchStep, *, time_left_ms: Callable[[], int], owner: str) -> DispatchResult:
    """Queues the step's pages. `owner` names this attempt at the step: a retried page record knows itself by it."""
    repo = CampaignRepository(svc.settings.table_name)
    item = repo.get(step.tenant_id, step.campaign_id)
    if (
        item is None
        or item.get("status") != CampaignStatus.DISPATCHING.value
        or int(item.get("dispatch_page", -1)) != step.page
    ):
        logger.info("Stale dispatch step", extra={"campaign_id": step.campaign_id, "page": step.page})
        return DispatchResult(DispatchOutcome.STALE, 0, 0)
    plan = CampaignPlan.from_item(item)
    index, partition = index_partition(plan)
    page, start_key = step.page, step.start_key
    pages = queued = 0
    while True:
        members, last_key = repo.index_page(index, partition, start_key, limit=PAGE_LIMIT)
        contact_ids = list(dict.fromkeys(str(m["contact_id"]) for m in members if m.get("contact_id")))
        campaign_queues.enqueue_chunks([c.model_dump() for c in chunks(step, page, contact_ids)])
        done = last_key is None
        hand_over = not done and time_left_ms() < RESERVE_MS
        if hand_over:
            campaign_queues.enqueue_dispatch(
                DispatchStep(
                    tenant_id=step.tenant_id, campaign_id=step.campaign_id, page=page + 1, start_key=last_key
                ).model_dump()
            )
        recorded = repo.advance_dispatch(
            step.tenant_id,
            step.campaign_id,
            expected_page=page,
            queued=len(contact_ids),
            done=done,
            status=(CampaignStatus.SENDING if done else CampaignStatus.DISPATCHING).value,
            owner=owner,
            next_start=json.dumps(last_key, sort_keys=True) if last_key else None,
            at=svc.clock().isoformat(),
        )
        if not recorded:  # another copy of this step got there first; its recipients are the ones counted
            return DispatchResult(DispatchOutcome.STALE, pages, queued)
        pages += 1
        queued += len(contact_ids)
        if done:
            return DispatchResult(DispatchOutcome.DONE, pages, queued)
        if hand_over:
            return DispatchResult(DispatchOutcome.CONTINUED, pages, queued)
        page, start_key = page + 1, last_key
