"""Webhook subscriptions, their delivery log, and the change feed, as the admin API takes and returns them."""

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from samtykke.models.common import Model

SubscriptionStatus = Literal["active", "paused", "failing"]
DeliveryStatus = Literal["pending", "retrying", "delivered", "dead", "paused"]
_TYPE_PATTERN = r"^dk\.samtykke\.[a-z_]+\.[a-z_*]+$"


class WebhookCreate(Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "url": "https://crm.example.com/hooks/samtykke",
                "event_types": ["dk.samtykke.consent.withdrawn", "dk.samtykke.suppression.added"],
                "description": "CRM sync",
            }
        },
    )
    url: str = Field(min_length=8, max_length=2048)
    event_types: list[str] = Field(
        min_length=1,
        max_length=20,
        description="CloudEvents types (`dk.samtykke.consent.withdrawn`), or a kind's wildcard "
        "(`dk.samtykke.consent.*`), or `*` for every type",
    )
    description: str | None = Field(default=None, max_length=200)
    include_addresses: bool = Field(
        default=False, description="Add the contact's email and phone to each event's data (off by default)"
    )
    secret: str | None = Field(
        default=None,
        pattern=r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$",
        description="A `whsec_` secret of your own; by default one is generated and returned once",
    )


class WebhookUpdate(Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"event_types": ["dk.samtykke.consent.*"], "description": "CRM sync (all)"}},
    )
    url: str | None = Field(default=None, min_length=8, max_length=2048)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=200)
    include_addresses: bool | None = None


class WebhookSecretInfo(Model):
    secret_id: str
    created_at: datetime
    expires_at: datetime | None = None


class Webhook(Model):
    subscription_id: str
    url: str
    event_types: list[str]
    description: str | None = None
    include_addresses: bool
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None = None
    secrets: list[WebhookSecretInfo] = Field(description="Live signing secrets (never their values)")


class WebhookWithSecret(Webhook):
    secret: str = Field(description="The new signing secret: shown this once, keep it")


class WebhookList(Model):
    webhooks: list[Webhook]


class Delivery(Model):
    delivery_id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


class DeliveryPage(Model):
    deliveries: list[Delivery]
    next_cursor: str | None = None


class PingResult(Model):
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int
    webhook_id: str


class ChangesPage(Model):
    changes: list[dict[str, Any]] = Field(description="CloudEvents 1.0, oldest first")
    next_cursor: str = Field(description="Pass as `since` for the next page, now or later")
    has_more: bool
