"""What the embeddable form renders: a tenant's purposes and their current texts in one locale, and its words."""

from pydantic import Field

from samtykke.models.common import Model


class EmbedPurpose(Model):
    purpose_id: str
    name: str
    text: str
    text_version: int
    locale: str = Field(description="The text's locale: the page's, else the tenant's default, else English")


class EmbedForm(Model):
    tenant_id: str
    locale: str
    privacy_policy_url: str | None = None
    purposes: list[EmbedPurpose]
    messages: dict[str, str]
