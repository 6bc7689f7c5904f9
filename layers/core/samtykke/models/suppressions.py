"""Suppressions as the admin API shows them: by address (its blind index), never the address itself."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from samtykke.domain.consent import Channel
from samtykke.models.common import Model

PURPOSE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
MAX_PAGE = 50


class Suppression(Model):
    channel: Channel
    purpose: str | None = Field(description="The purpose suppressed; null for every purpose")
    reason: str = Field(
        description="`unsubscribed`, `sms_stop`, `hard_bounce`, `complaint`, `manual`, `erased`, `do_not_contact`"
    )
    at: str | None = None
    source: str | None = Field(default=None, description="What suppressed it: `ses`, `unsubscribe-link`, a provider…")
    detail: str | None = Field(default=None, description="A bounce's type, a complaint's feedback type")
    lift_refusal: str | None = Field(
        default=None,
        description="In a lookup: why staff may not lift it (the code a lift would answer), or null if they may",
    )


class AddressSuppressions(Model):
    kind: str = Field(description="`email` or `phone`")
    hash: str = Field(description="The address's blind index")
    contact_id: str | None = Field(default=None, description="The contact the address belongs to, if any")
    suppressed: bool
    suppressions: list[Suppression]


class SuppressionList(Model):
    addresses: list[AddressSuppressions]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; a page may hold fewer than `limit` addresses"
    )


class SuppressionLookup(Model):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"example": {"email": "anna@example.dk"}}
    )
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)


class SuppressionLift(Model):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {
                "email": "anna@example.dk",
                "channel": "email",
                "note": "Mailbox full in November; the customer confirmed it works again on the phone",
            }
        },
    )
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    channel: Channel
    purpose: str | None = Field(
        default=None, pattern=PURPOSE_PATTERN, description="The purpose the suppression covers; omit for every purpose"
    )
    note: str = Field(min_length=10, max_length=2000, description="Why it may be lifted (required; audited)")


class SuppressionLifted(Model):
    kind: str
    hash: str
    contact_id: str | None = None
    channel: Channel
    purpose: str | None
    reason: str = Field(description="The reason of the suppression that was lifted")
    lifted_at: str
    lifted_by: str
    already_lifted: bool = Field(description="True when an earlier request lifted it (a retry changes nothing)")
