"""SES bounces and complaints, arriving through SNS: suppress the address, and count it on the send and campaign.

The notification names the address in plaintext. It is normalised and blind-indexed with the keys of the tenant
named in the message's tags (`samtykke-tenant`, set on every campaign send), or, when SES published no tags, in
the `X-Samtykke-Tenant` header of the original message. The plaintext is never stored or logged.

- permanent bounce: suppression `email#*`, reason `hard_bounce`; counted in `hard_bounces` on the address;
- transient bounce: counted in `soft_bounces` on the address (once per feedback id); at `SOFT_BOUNCE_LIMIT` the
  address is suppressed as `hard_bounce` with `source: transient_threshold`;
- complaint: suppression `email#*`, reason `complaint`; counted in `complaints` on the address, apart from bounces.
A campaign send named in the tags gets `bounced_at` or `complained_at` on its send record, and the campaign's
`bounced` or `complaints` counter goes up, once per send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from samtykke.adapters.campaign_repository import CampaignRepository
from samtykke.adapters.errors import ConditionFailed
from samtykke.adapters.repository import contact_pk
from samtykke.domain.addresses import normalise_email
from samtykke.domain.campaigns import HEADER_TENANT, TAG_CAMPAIGN, TAG_CONTACT, TAG_TENANT
from samtykke.domain.consent import Channel
from samtykke.domain.errors import InvalidInput, NotFound
from samtykke.domain.ses_feedback import SOFT_BOUNCE_LIMIT, FeedbackAction, feedback, mail_header, mail_tag
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.observability import logger
from samtykke.services.context import Services

SOURCE = "ses"


@dataclass
class FeedbackResult:
    tenant_id: str | None = None
    suppressed: int = 0
    soft_bounces: int = 0
    ignored: int = 0


def handle_notification(svc: Services, message: dict[str, Any]) -> FeedbackResult:
    """Applies one SES event (the JSON in the SNS message). Unattributable or irrelevant events are ignored."""
    actions = feedback(message)
    result = FeedbackResult()
    if not actions:
        return result
    tenant_id = mail_tag(message, TAG_TENANT) or mail_header(message, HEADER_TENANT)
    if not tenant_id:
        logger.warning("SES feedback without a tenant tag or header: ignored", extra={"actions": len(actions)})
        result.ignored = len(actions)
        return result
    try:
        catalog = svc.catalogs.get(tenant_id)
    except NotFound:
        logger.warning("SES feedback for an unknown tenant: ignored", extra={"tenant_id": tenant_id})
        result.ignored = len(actions)
        return result
    result.tenant_id = tenant_id
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    repo = CampaignRepository(svc.settings.table_name)
    campaign_id = mail_tag(message, TAG_CAMPAIGN)
    contact_id = mail_tag(message, TAG_CONTACT)
    now = svc.clock().isoformat()
    for action in actions:
        try:
            address = normalise_email(action.address)
        except InvalidInput:
            result.ignored += 1
            continue
        blind = keys.blind_index("email", address)
        record: dict[str, Any] = {"reason": "", "at": now, "source": SOURCE, "detail": action.detail}
        if action.action is FeedbackAction.SOFT_BOUNCE:
            count = repo.count_soft_bounce(tenant_id, blind, action.feedback_id)
            result.soft_bounces += 1
            if count is None or count < SOFT_BOUNCE_LIMIT:
                continue
            record |= {"reason": SuppressionReason.HARD_BOUNCE.value, "source": "transient_threshold", "count": count}
        elif action.action is FeedbackAction.HARD_BOUNCE:
            repo.count_address_feedback(tenant_id, blind, "hard_bounces", action.feedback_id)
            record["reason"] = SuppressionReason.HARD_BOUNCE.value
        else:
            repo.count_address_feedback(tenant_id, blind, "complaints", action.feedback_id)
            record["reason"] = SuppressionReason.COMPLAINT.value
        svc.repo.set_address_suppression(tenant_id, "email", blind, suppression_key(Channel.EMAIL), record)
        result.suppressed += 1
        if campaign_id and contact_id and action.action is not FeedbackAction.SOFT_BOUNCE:
            _count_on_campaign(repo, tenant_id, campaign_id, contact_id, action.action, now)
    return result


def _count_on_campaign(
    repo: CampaignRepository, tenant_id: str, campaign_id: str, contact_id: str, action: FeedbackAction, at: str
) -> None:
    attribute, counter = (
        ("complained_at", "n_complaints") if action is FeedbackAction.COMPLAINT else ("bounced_at", "n_bounced")
    )
    if repo.mark_send(contact_pk(tenant_id, contact_id), campaign_id, attribute, at):
        try:
            repo.add_counts(tenant_id, campaign_id, {counter: 1})
        except ConditionFailed:  # the campaign is gone; the send record keeps the fact
            logger.warning("Campaign counter not updated", extra={"campaign_id": campaign_id})
