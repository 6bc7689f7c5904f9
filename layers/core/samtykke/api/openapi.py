"""The OpenAPI document of every HTTP endpoint, generated from the same routers and models that serve them."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from samtykke import __version__
from samtykke.api.app import build_resolver
from samtykke.api.auth import BEARER_SCHEME, OPERATOR_SCHEME
from samtykke.api.routes import (
    admin_campaigns,
    admin_catalog,
    admin_contacts,
    admin_events,
    admin_evidence,
    admin_governance,
    admin_links,
    admin_rights,
    admin_sms,
    admin_staff,
    auth_public,
    operator,
    public_consents,
    public_embed,
    public_evidence,
    sms_webhooks,
    unsubscribe,
)

ROUTERS = (
    public_consents.router,
    admin_catalog.router,
    admin_contacts.router,
    sms_webhooks.router,
    admin_sms.router,
    unsubscribe.router,
    admin_links.router,
    auth_public.router,
    admin_staff.router,
    admin_rights.router,
    admin_campaigns.router,
    public_evidence.router,
    admin_evidence.router,
    public_embed.router,
    admin_events.router,
    admin_governance.router,
    operator.router,
)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _accept_form_posts(document: dict[str, Any]) -> None:
    """Public form endpoints take HTML form posts too; powertools documents only their JSON body."""
    for path, operations in document.get("paths", {}).items():
        body = operations.get("post", {}).get("requestBody", {}).get("content", {})
        if path.startswith("/v1/public/") and "application/json" in body:
            body[FORM_CONTENT_TYPE] = body["application/json"]


@cache
def openapi_document() -> dict[str, Any]:
    schema = build_resolver(*ROUTERS).get_openapi_schema(
        title="samtykke",
        version=__version__,
        summary="GDPR consent and marketing-compliance backend",
        description="Public endpoints for web forms, mail clients and SMS providers; the admin API behind a "
        "bearer key or session token.",
        security_schemes={
            BEARER_SCHEME: HTTPBearer(description="An API key (`stk_…`) or a session token"),
            OPERATOR_SCHEME: HTTPBearer(description="An operator key (`sko_…`): the deployment's operator only"),
        },
    )
    document: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    _accept_form_posts(document)
    return document
