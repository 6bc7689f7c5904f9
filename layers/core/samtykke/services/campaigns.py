"""Campaigns, from the admin API: create, read (with progress), dry run, and send.

A send request only moves the campaign from `draft` to `dispatching` and queues its first dispatch step, so the
API answers 202 at once; `campaign_dispatch` and `campaign_sender` do the rest (services/campaign_dispatch.py,
services/campaign_sender.py).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from samtykke.adapters import campaign_queues
from samtykke.adapters.campaign_repository import (
    ACTIVE_CAMPAIGNS,
    CANDIDATES_INDEX,
    CampaignRepository,
    campaign_pk,
    campaigns_index_pk,
)
from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.repository import candidates_pk
from samtykke.adapters.rights_repository import decode_cursor, encode_cursor
from samtykke.domain.access import Principal
from samtykke.domain.audience import (
    COMPLIANCE_REASONS,
    ERASURE_SOURCE,
    ContactFacts,
    Excluded,
    consent_exclusion,
    eligibility,
)
from samtykke.domain.campaigns import (
    CampaignAlreadySent,
    CampaignNotFound,
    CampaignStatus,
    check_transactional,
    current_status,
)
from samtykke.domain.consent import Channel, ConsentStatus
from samtykke.domain.defaults import SUPPORTED_LOCALES
from samtykke.domain.errors import BadRequest, InvalidInput, RetryableError, SamtykkeError
from samtykke.domain.fines import FineRate, exposure, rate_for
from samtykke.domain.merge import MERGE_FIELDS, merge_fields
from samtykke.domain.pacing import SendQuota, eta_seconds
from samtykke.domain.purposes import check_transactional_purpose
from samtykke.models.campaign import (
    Campaign,
    CampaignCounts,
    CampaignCreate,
    CampaignList,
    DispatchStep,
    DryRunReport,
    FineExposure,
    SendAccepted,
)
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.governance.approvals import require_approval
from samtykke.services.ledger import new_id
from samtykke.services.recipients import CampaignPlan, evaluate

CAMPAIGN_ID_PATTERN = r"^cmp_[0-9a-f]{32}$"
SMS_MAX_LENGTH = 1000  # before the opt-out hint; about 7 concatenated segments
MAX_LIST_PAGE = 100
DRY_RUN_SLICE = 1000  # contacts read per evaluate() call
COUNTER_PREFIX = "n_"
SKIP_PREFIX = "n_skip_"


class UnknownPurpose(InvalidInput):
    code = "unknown_purpose"


def _repo(svc: Services) -> CampaignRepository:
    return CampaignRepository(svc.settings.table_name)


def _keys(svc: Services, catalog: TenantCatalog) -> TenantKeys:
    return svc.keyring.tenant_keys(catalog.tenant.tenant_id, catalog.root_key_blob)


def _check_id(campaign_id: str) -> None:
    if not re.fullmatch(CAMPAIGN_ID_PATTERN, campaign_id):
        raise CampaignNotFound("No such campaign")


# --- create --------------------------------------------------------------------------------------------------


def _check_purpose(catalog: TenantCatalog, purpose_id: str, channel: Channel, *, what: str) -> None:
    purpose = catalog.purposes.get(purpose_id)
    if purpose is None:
        raise UnknownPurpose(f"Unknown {what} '{purpose_id}'")
    if not purpose.active:
        raise InvalidInput(f"The {what} '{purpose_id}' is no longer active", code="purpose_inactive")
    if channel not in purpose.channels:
        raise InvalidInput(f"The {what} '{purpose_id}' has no {channel.value} channel", code="channel_not_in_purpose")


def _check_content(new: CampaignCreate, channel: Channel) -> None:
    allowed = MERGE_FIELDS[channel]
    for locale, content in new.content.items():
        if locale not in SUPPORTED_LOCALES:
            raise InvalidInput(
                f"Content locale '{locale}' is not one of {list(SUPPORTED_LOCALES)}", code="unsupported_locale"
            )
        where = f"content.{locale}"
        if channel is Channel.EMAIL and not content.subject:
            raise InvalidInput(f"{where}: an email needs a subject", code="subject_required")
        if channel is Channel.SMS:
            if content.subject or content.html:
                raise InvalidInput(f"{where}: an SMS has only a text", code="sms_content_is_text_only")
            if len(content.text) > SMS_MAX_LENGTH:
                raise InvalidInput(f"{where}: an SMS text is at most {SMS_MAX_LENGTH} characters", code="sms_too_long")
        for name in ("subject", "text", "html"):
            value = getattr(content, name)
            if value:
                merge_fields(value, allowed, where=f"{where}.{name}")


def create_campaign(svc: Services, principal: Principal, new: CampaignCreate) -> Campaign:
    """Checks everything, then writes the campaign as a draft. A transactional one is audited with its reason."""
    tenant_id = principal.tenant_id
    catalog = svc.catalogs.get(tenant_id)
    channel = Channel(new.channel.value)
    _check_purpose(catalog, new.purpose, channel, what="purpose")
    _check_content(new, channel)
    if new.segment is not None:
        for locale in new.segment.locales or []:
            if locale not in SUPPORTED_LOCALES:
                raise InvalidInput(f"Segment locale '{locale}' is not supported", code="unsupported_locale")
        for interest in new.segment.interests or []:
            _check_purpose(catalog, interest, channel, what="interest purpose")
    check_transactional(
        transactional=new.transactional, justification=new.justification, unsubscribe_link=new.unsubscribe_link
    )
    check_transactional_purpose(new.transactional, new.purpose, catalog.purposes[new.purpose].kind)
    campaign_id = new_id("cmp")
    now = svc.clock().isoformat()
    item: dict[str, Any] = {
        "pk": campaign_pk(tenant_id, campaign_id),
        "sk": "META",
        "tenant_id": tenant_id,
        "campaign_id": campaign_id,
        "name": new.name,
        "purpose": new.purpose,
        "channel": channel.value,
        "content": {locale: c.model_dump(exclude_none=True) for locale, c in new.content.items()},
        "segment": new.segment.model_dump(exclude_none=True) if new.segment else None,
        "transactional": new.transactional,
        "justification": (new.justification or "").strip() or None,
        "unsubscribe_link": new.unsubscribe_link,
        "status": CampaignStatus.DRAFT.value,
        "created_at": now,
        "created_by": principal.principal_id,
    }
    repo = _repo(svc)
    repo.create(item)
    if new.transactional:
        try:
            _audit(svc, principal, "campaign.transactional_created", campaign_id, item, ip=None)
        except (SamtykkeError, ClientError, BotoCoreError):
            repo.delete(tenant_id, campaign_id)  # an unaudited transactional campaign must not exist
            raise
    return campaign_view(item)


def list_campaigns(
    svc: Services, tenant_id: str, *, limit: int, cursor: str | None, purpose: str | None, channel: str | None
) -> CampaignList:
    """One page of the tenant's campaigns, newest first (ids are time-ordered), and the next page's cursor."""
    start = decode_cursor(cursor) if cursor else None
    if start is not None and start.get("pk") != campaigns_index_pk(tenant_id):
        raise BadRequest("The cursor is not one this API gave out", code="invalid_cursor")
    filters = {name: value for name, value in (("purpose", purpose), ("channel", channel)) if value}
    repo = _repo(svc)
    ids, last = repo.list_page(tenant_id, limit=max(1, min(limit, MAX_LIST_PAGE)), start=start, filters=filters)
    found = repo.batch_get([(campaign_pk(tenant_id, campaign_id), "META") for campaign_id in ids])
    views = [campaign_view(found[key]) for key in ((campaign_pk(tenant_id, i), "META") for i in ids) if key in found]
    return CampaignList(campaigns=views, next_cursor=encode_cursor(last) if last else None)


def _audit(
    svc: Services, principal: Principal, action: str, campaign_id: str, item: dict[str, Any], *, ip: str | None
) -> None:
    """Records the decision in the tenant's audit log (services/audit.py), with the stated justification."""
    from samtykke.services import audit

    details = {
        "purpose": item["purpose"],
        "channel": item["channel"],
        "transactional": bool(item.get("transactional")),
        "justification": item.get("justification"),
        "unsubscribe_link": bool(item.get("unsubscribe_link", True)),
    }
    audit.record(svc, principal, action, target=("campaign", campaign_id), ip=ip, details=details)


# --- read ----------------------------------------------------------------------------------------------------


def counts_of(item: dict[str, Any]) -> tuple[CampaignCounts, int]:
    """The progress counters, and how many recipients have been processed (sent, skipped, failed or duplicates)."""
    by_reason = {key[len(SKIP_PREFIX) :]: int(n) for key, n in item.items() if key.startswith(SKIP_PREFIX) and n}
    counts = CampaignCounts(
        queued=int(item.get("n_queued", 0)),
        sent=int(item.get("n_sent", 0)),
        failed=int(item.get("n_failed", 0)),
        skipped=int(item.get("n_skipped", 0)),
        skipped_by_reason=dict(sorted(by_reason.items())),
        minors=int(item.get("n_minors", 0)),
        unconfirmed=int(item.get("n_unconfirmed", 0)),
        bounced=int(item.get("n_bounced", 0)),
        complaints=int(item.get("n_complaints", 0)),
    )
    processed = counts.sent + counts.failed + counts.skipped + int(item.get("n_duplicates", 0))
    return counts, processed


def campaign_view(item: dict[str, Any]) -> Campaign:
    counts, processed = counts_of(item)
    status = current_status(
        CampaignStatus(item["status"]),
        dispatch_done=bool(item.get("dispatch_done")),
        queued=counts.queued,
        processed=processed,
    )
    progress = min(1.0, processed / counts.queued) if counts.queued else 0.0
    if status is CampaignStatus.DONE:
        progress = 1.0
    fields = {k: v for k, v in item.items() if not k.startswith(COUNTER_PREFIX) and k != "ses_pace"}
    pace = item.get("ses_pace")
    done_at = _estimated_done_at(pace, counts.queued - processed) if status is CampaignStatus.SENDING and pace else None
    return Campaign.model_validate(
        {**fields, "status": status, "counts": counts, "progress": round(progress, 4), "estimated_done_at": done_at}
    )


def _estimated_done_at(pace: dict[str, Any], remaining: int) -> datetime:
    quota = SendQuota(
        max_send_rate=float(pace["max_send_rate"]),
        max_24_hour_send=float(pace["max_24_hour_send"]),
        sent_last_24_hours=float(pace["sent_last_24_hours"]),
    )
    return datetime.fromisoformat(pace["at"]) + timedelta(seconds=eta_seconds(remaining, quota))


def _load(svc: Services, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    _check_id(campaign_id)
    item = _repo(svc).get(tenant_id, campaign_id)
    if item is None:
        raise CampaignNotFound("No such campaign")
    return item


load_campaign = _load  # the tenant's campaign item, for governance (services/governance/approvals.py)


def get_campaign(svc: Services, tenant_id: str, campaign_id: str) -> Campaign:
    return campaign_view(_load(svc, tenant_id, campaign_id))


# --- dry run -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tally:
    candidates: int
    included: int
    minors: int
    excluded: Counter[str]


def _tally(svc: Services, catalog: TenantCatalog, plan: CampaignPlan) -> _Tally:
    """Every contact with any consent state for the purpose and channel (the `candidates` index), through the filter.

    A contact whose consent is no basis is counted from the index alone; the others are read and evaluated exactly
    as the sender will.
    """
    repo = _repo(svc)
    excluded: Counter[str] = Counter()
    to_read: list[str] = []
    candidates = 0
    for member in repo.index_members(CANDIDATES_INDEX, candidates_pk(plan.tenant_id, plan.purpose, plan.channel.value)):
        candidates += 1
        try:
            status: ConsentStatus | None = ConsentStatus(member.get("status", ""))
        except ValueError:
            status = None
        erased = member.get("source") == ERASURE_SOURCE
        if erased or (not plan.transactional and consent_exclusion(status) is not None):
            # Excluded whatever else holds: the index alone decides, with the same filter the sender applies.
            decision = eligibility(status, {}, ContactFacts(erased=erased), plan.rules)
            if isinstance(decision, Excluded):
                excluded[decision.reason.value] += 1
                continue
        to_read.append(member["contact_id"])
    included = minors = 0
    keys = _keys(svc, catalog)
    today = svc.clock().date()
    for start in range(0, len(to_read), DRY_RUN_SLICE):
        for recipient in evaluate(
            repo, keys, plan, to_read[start : start + DRY_RUN_SLICE], country=catalog.tenant.country, today=today
        ):
            if isinstance(recipient.decision, Excluded):
                excluded[recipient.decision.reason.value] += 1
            else:
                included += 1
                minors += int(recipient.decision.minor)
    return _Tally(candidates, included, minors, excluded)


def _tenant_rate(catalog: TenantCatalog) -> FineRate | None:
    own = catalog.tenant.fine_rate
    return None if own is None else FineRate(own.currency, own.per_recipient, own.minimum, "tenant setting")


def dry_run(svc: Services, tenant_id: str, campaign_id: str) -> DryRunReport:
    """Counts who a send would include and who it would exclude, by reason, and the fine exposure. Sends nothing."""
    item = _load(svc, tenant_id, campaign_id)
    catalog = svc.catalogs.get(tenant_id)
    plan = CampaignPlan.from_item(item)
    tally = _tally(svc, catalog, plan)
    at_risk = sum(n for reason, n in tally.excluded.items() if reason in {r.value for r in COMPLIANCE_REASONS})
    country = catalog.tenant.country
    rate = rate_for(country, _tenant_rate(catalog))
    fine = (
        None
        if rate is None
        else FineExposure(
            country=country,
            currency=rate.currency,
            per_recipient=rate.per_recipient,
            minimum=rate.minimum,
            recipients=at_risk,
            amount=exposure(at_risk, rate),
            source=rate.source,
        )
    )
    warnings = []
    if tally.minors:
        warnings.append(f"{tally.minors} included contact(s) are minors: marketing to minors is flagged")
    if plan.transactional:
        warnings.append("Transactional: marketing consent is not checked; the justification is audited")
    if not plan.unsubscribe_link:
        warnings.append("The unsubscribe link is switched off for this transactional campaign")
    if rate is None:
        warnings.append(f"No fine rate for {country}: set `fine_rate` in the tenant settings to get an exposure figure")
    return DryRunReport(
        campaign_id=campaign_id,
        purpose=plan.purpose,
        channel=item["channel"],
        transactional=plan.transactional,
        evaluated_at=svc.clock(),
        candidates=tally.candidates,
        included=tally.included,
        excluded=sum(tally.excluded.values()),
        excluded_by_reason=dict(sorted(tally.excluded.items())),
        minors_included=tally.minors,
        warnings=warnings,
        fine_exposure=fine,
    )


# --- send ----------------------------------------------------------------------------------------------------


def request_send(
    svc: Services, principal: Principal, campaign_id: str, *, base_url: str, ip: str | None, status_url: str
) -> SendAccepted:
    """Accepts the send (draft -> dispatching), audits it, and queues the first dispatch step. Idempotent: a second
    request gets 409 `campaign_already_sent`. If queueing fails, the campaign is a draft again and the caller gets 503.
    """
    tenant_id = principal.tenant_id
    item = _load(svc, tenant_id, campaign_id)
    if item["status"] != CampaignStatus.DRAFT.value:
        raise CampaignAlreadySent("This campaign has been sent already")
    require_approval(item)  # four eyes on a send without an unsubscribe link
    repo = _repo(svc)
    send_token = uuid.uuid4().hex  # names this request on the campaign, so that a retried update knows its own write
    accepted = repo.set_status(
        tenant_id,
        campaign_id,
        expected=CampaignStatus.DRAFT.value,
        new=CampaignStatus.DISPATCHING.value,
        changes={
            "send_requested_at": svc.clock().isoformat(),
            "send_requested_by": principal.principal_id,
            "send_token": send_token,
            "base_url": base_url,
            "dispatch_page": 0,
            "dispatch_done": False,
            "dispatch_at": svc.clock().isoformat(),
            # listed as active until the reconciler sees it done (services/campaign_reconciler.py)
            "gsi1pk": ACTIVE_CAMPAIGNS,
            "gsi1sk": f"{tenant_id}#{campaign_id}",
        },
    )
    if not accepted and (repo.get(tenant_id, campaign_id) or {}).get("send_token") != send_token:
        raise CampaignAlreadySent("This campaign has been sent already")
    try:
        _audit(svc, principal, "campaign.sent", campaign_id, item, ip=ip)
        campaign_queues.enqueue_dispatch(DispatchStep(tenant_id=tenant_id, campaign_id=campaign_id).model_dump())
    except (SamtykkeError, ClientError, BotoCoreError) as exc:
        repo.set_status(
            tenant_id,
            campaign_id,
            expected=CampaignStatus.DISPATCHING.value,
            new=CampaignStatus.DRAFT.value,
            changes={},
        )
        if isinstance(exc, SamtykkeError):
            raise
        raise RetryableError("The send could not be queued; retry", code="campaign_queue_unavailable") from exc
    return SendAccepted(campaign_id=campaign_id, status=CampaignStatus.DISPATCHING, status_url=status_url)
