"""Facts about the HTTP request that the services need: evidence, and the public URL links point at."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.models.consent import Evidence
from samtykke.settings import get_settings


def http_event(router: Router) -> APIGatewayProxyEventV2:
    """The current request, typed as the HTTP API (payload 2.0) event that every route receives."""
    return cast(APIGatewayProxyEventV2, router.current_event)


def request_evidence(event: APIGatewayProxyEventV2, at: datetime, page_url: str | None = None) -> Evidence:
    http = event.request_context.http
    return Evidence(
        ip=http.source_ip,
        user_agent=http.user_agent,
        page_url=page_url or event.headers.get("referer"),
        at=at,
    )


def public_base_url(event: APIGatewayProxyEventV2) -> str:
    """The configured public URL, else the one this request came in on (API Gateway domain and stage)."""
    configured = get_settings().public_base_url
    if configured:
        return configured.rstrip("/")
    context = event.request_context
    stage = "" if context.stage in ("$default", None) else f"/{context.stage}"
    return f"https://{context.domain_name}{stage}"
