"""Signed links: the public fresh-link request, and the admin's links, test message and link-key rotation."""

from datetime import datetime
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from samtykke.domain.links import DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS
from samtykke.models.common import FormTolerantModel, Model


class PreferenceLinkRequest(FormTolerantModel):
    """Someone without a link asks for a fresh preference-centre link, by email address."""

    model_config = ConfigDict(json_schema_extra={"example": {"email": "anna@example.dk"}})
    email: str = Field(min_length=3, max_length=320)


class PreferenceLinkAccepted(Model):
    """The same answer whether or not the address is known."""

    accepted: bool = True
    message: str = "If the address is registered, a link to the preference centre is on its way."


class ContactLinks(Model):
    contact_id: str
    purpose: str
    channel: str
    message_ref: str
    unsubscribe_url: str
    preference_url: str
    headers: dict[str, str] = Field(description="The List-Unsubscribe headers a marketing email carries")


class MessageTestRequest(Model):
    """One marketing-style test email to a contact (found by `contact_id` or `email`) for a purpose."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"email": "anna@example.dk", "purpose": "e-marketing"}}
    )
    contact_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    purpose: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")

    @model_validator(mode="after")
    def _one_recipient(self) -> Self:
        if (self.contact_id is None) == (self.email is None):
            raise ValueError("Give exactly one of contact_id or email")
        return self


class MessageTestSent(Model):
    message_id: str
    contact_id: str
    message_ref: str
    unsubscribe_url: str
    preference_url: str


class LinkKeyRotation(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"grace_days": DEFAULT_GRACE_DAYS}})
    grace_days: int = Field(
        default=DEFAULT_GRACE_DAYS,
        ge=0,
        le=MAX_GRACE_DAYS,
        description="How long links signed with the current key keep working; 0 retires them at once",
    )


class LinkKeyStatus(Model):
    version: int
    rotated_at: datetime | None = None
    previous_version: int | None = None
    previous_valid_until: datetime | None = None
