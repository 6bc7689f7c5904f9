"""Campaign rules that need no I/O: the life cycle, progress, and how a send is tagged for its feedback.

Life cycle: `draft` (made, may be dry-run) -> `dispatching` (send accepted; the dispatcher pages the audience onto
the queue) -> `sending` (everyone is queued; the sender works through them) -> `done` (everyone queued was sent,
skipped or failed). `done` is derived from the counters when read, never written by a racing sender.
"""

from __future__ import annotations

from enum import StrEnum

from samtykke.domain.errors import Conflict, InvalidInput, NotFound

# Recipients per queue message. SendMessageBatch takes 10 messages, so one call queues 500 people; the sender reads
# a chunk's profiles, states and claims with 2 BatchGetItem calls (3 keys a person, 100 keys a call), claims it with
# one TransactWriteItems (<= 100 actions) and records it with 2 BatchWriteItem calls (25 a call).
CHUNK_SIZE = 50
JUSTIFICATION_MIN_LENGTH = 20

# SES message tags (and the matching MIME headers) that bring a bounce or complaint back to its tenant and send.
TAG_TENANT = "samtykke-tenant"
TAG_CAMPAIGN = "samtykke-campaign"
TAG_CONTACT = "samtykke-contact"
HEADER_TENANT = "X-Samtykke-Tenant"
HEADER_CAMPAIGN = "X-Samtykke-Campaign"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    DISPATCHING = "dispatching"
    SENDING = "sending"
    DONE = "done"


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class CampaignAlreadySent(Conflict):
    code = "campaign_already_sent"


class JustificationRequired(InvalidInput):
    code = "justification_required"


class UnsubscribeLinkRequired(InvalidInput):
    code = "unsubscribe_link_required"


def current_status(stored: CampaignStatus, *, dispatch_done: bool, queued: int, processed: int) -> CampaignStatus:
    """The status to show: a sending campaign is done once everyone queued has been sent, skipped or failed."""
    if stored is CampaignStatus.DRAFT:
        return stored
    if not dispatch_done:
        return CampaignStatus.DISPATCHING
    return CampaignStatus.DONE if processed >= queued else CampaignStatus.SENDING


def check_transactional(*, transactional: bool, justification: str | None, unsubscribe_link: bool) -> None:
    """A transactional send needs a stated reason; only a justified transactional send may drop the unsubscribe link."""
    reason = (justification or "").strip()
    if transactional and len(reason) < JUSTIFICATION_MIN_LENGTH:
        raise JustificationRequired(
            f"A transactional campaign needs a justification of at least {JUSTIFICATION_MIN_LENGTH} characters"
        )
    if not unsubscribe_link and not transactional:
        raise UnsubscribeLinkRequired(
            "Only a transactional campaign, with its justification, may omit the unsubscribe link"
        )
