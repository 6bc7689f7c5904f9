"""Campaigns: what staff create, what a dry run reports, and how a send shows its progress."""

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from samtykke.domain.campaigns import CampaignStatus
from samtykke.models.common import Model
from samtykke.models.strict import HeaderSafeStr


class CampaignChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageContent(Model):
    """One locale's message. Email: `subject` and `text`, optionally `html`. SMS: `text` only.

    Merge fields: `{first_name}`, `{last_name}`, `{tenant}`, and in email `{unsubscribe_url}` and `{preferences_url}`.
    Write `{{` and `}}` for literal braces. The unsubscribe link and footer are added to every email anyway.
    """

    model_config = ConfigDict(extra="forbid")
    subject: HeaderSafeStr | None = Field(default=None, min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    html: str | None = Field(default=None, min_length=1, max_length=40_000)


class Segment(Model):
    """Narrows the audience. Every condition given must hold."""

    model_config = ConfigDict(extra="forbid")
    locales: list[str] | None = Field(
        default=None, min_length=1, max_length=6, description="Only contacts whose language is one of these"
    )
    interests: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="Purposes the contact must also have granted, on the campaign's channel",
    )


class CampaignCreate(Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "name": "Spring newsletter",
                "purpose": "e-marketing",
                "channel": "email",
                "content": {
                    "da": {
                        "subject": "Forårets nyheder til {first_name}",
                        "text": "Hej {first_name}\n\nSe forårets nyheder hos {tenant}.",
                        "html": "<p>Hej {first_name}</p><p>Se forårets nyheder hos {tenant}.</p>",
                    },
                    "en": {
                        "subject": "Spring news for {first_name}",
                        "text": "Hi {first_name}\n\nSee what is new at {tenant} this spring.",
                        "html": "<p>Hi {first_name}</p><p>See what is new at {tenant} this spring.</p>",
                    },
                },
                "segment": {"locales": ["da", "en"]},
            }
        },
    )
    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    channel: CampaignChannel
    content: dict[str, MessageContent] = Field(
        min_length=1, max_length=6, description="By locale (da, sv, nb, nl, de, en)"
    )
    segment: Segment | None = None
    transactional: bool = Field(
        default=False,
        description="Skips marketing consent (never hard-bounce, complaint or erasure suppression). Needs a "
        "`justification`; audited.",
    )
    justification: str | None = Field(default=None, max_length=2000)
    unsubscribe_link: bool = Field(
        default=True,
        description="Only a transactional campaign (of a `service` purpose), with its justification, may switch it "
        "off; a second staff member must then approve it (`POST .../approve-unsubscribe-off`) before it is sent",
    )


class CampaignCounts(Model):
    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    minors: int = Field(default=0, description="Messages that went to minors (flagged)")
    unconfirmed: int = Field(
        default=0,
        description="Of `sent`: sends whose provider answer was lost (maybe delivered); never repeated",
    )
    bounced: int = 0
    complaints: int = 0


class Campaign(Model):
    campaign_id: str
    name: str
    purpose: str
    channel: CampaignChannel
    content: dict[str, MessageContent]
    segment: Segment | None = None
    transactional: bool
    justification: str | None = None
    unsubscribe_link: bool
    status: CampaignStatus
    created_at: datetime
    created_by: str | None = None
    send_requested_at: datetime | None = None
    send_requested_by: str | None = None
    unsubscribe_off_approved_by: str | None = Field(
        default=None, description="The second staff member who approved sending without an unsubscribe link"
    )
    counts: CampaignCounts
    progress: float = Field(description="Share of the queued recipients processed so far, 0..1")
    estimated_done_at: datetime | None = Field(
        default=None,
        description="While an email campaign is sending: when its queued recipients will have gone out at the SES "
        "account's pace (its sending rate, and its daily quota), as the senders last read it",
    )


class CampaignList(Model):
    campaigns: list[Campaign]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


class FineExposure(Model):
    country: str
    currency: str
    per_recipient: int
    minimum: int
    recipients: int = Field(description="Excluded recipients whose messaging would have broken the rules")
    amount: int
    source: str


class DryRunReport(Model):
    campaign_id: str
    purpose: str
    channel: CampaignChannel
    transactional: bool
    evaluated_at: datetime
    candidates: int = Field(description="Contacts with any consent state for the purpose and channel")
    included: int
    excluded: int
    excluded_by_reason: dict[str, int]
    minors_included: int = Field(description="Included contacts who are minors (with parental confirmation)")
    warnings: list[str]
    fine_exposure: FineExposure | None = Field(
        description="null when neither the tenant nor the rate table has a rate for the tenant's country"
    )


class SendAccepted(Model):
    campaign_id: str
    status: CampaignStatus
    status_url: str


class CampaignReconciled(Model):
    """What one reconciliation of a campaign found and did."""

    campaign_id: str
    status: CampaignStatus
    stale_claims: int = Field(description="Claims whose worker's lease ran out before it recorded a send; re-queued")
    requeued_chunks: int = Field(description="Queue messages that carry those recipients to the sender again")
    in_flight: int = Field(description="Claims held by live workers, left to them")
    dispatch_resumed: bool = Field(description="Whether a dispatch that had stalled was queued again")


# --- queue messages ----------------------------------------------------------------------------------------------


class DispatchStep(Model):
    """A campaign's position in its audience: the dispatch queue's message body."""

    model_config = ConfigDict(extra="forbid")
    v: int = 1
    tenant_id: str = Field(min_length=1, max_length=64)
    campaign_id: str = Field(pattern=r"^cmp_[0-9a-f]{32}$")
    page: int = Field(default=0, ge=0)
    start_key: dict[str, dict[str, str]] | None = None  # the index Query's ExclusiveStartKey


class RecipientChunk(Model):
    """Up to 100 recipients of one campaign: the campaign queue's message body."""

    model_config = ConfigDict(extra="forbid")
    v: int = 1
    tenant_id: str = Field(min_length=1, max_length=64)
    campaign_id: str = Field(pattern=r"^cmp_[0-9a-f]{32}$")
    chunk: str = Field(pattern=r"^[0-9]+-[0-9]+$", description="`{page}-{index}`: which dispatch step queued it")
    contacts: list[str] = Field(min_length=1, max_length=100)
    deferrals: int = Field(default=0, ge=0, description="How often a transient fault sent it back to the queue")
