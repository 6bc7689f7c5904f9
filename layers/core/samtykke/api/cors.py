"""CORS for the public form endpoint, answered per tenant: only the tenant's allowed origins get access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator

from samtykke.api.responses import error_response
from samtykke.domain.errors import NotFound
from samtykke.services.context import services

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def origin_allowed(tenant_id: str, origin: str, *, after_route: bool = False) -> bool:
    """After the route ran, its own (just checked) snapshot answers; a preflight checks the counter first."""
    catalogs = services().catalogs
    try:
        return (catalogs.recent if after_route else catalogs.get)(tenant_id).origin_allowed(origin)
    except NotFound:
        return False


@lambda_handler_decorator
def tenant_cors(handler: Handler, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Adds `Access-Control-Allow-Origin` to every response, errors included, for an allowed origin."""
    response = handler(event, context)
    origin = (event.get("headers") or {}).get("origin")
    tenant_id = (event.get("pathParameters") or {}).get("tenant_id")
    if origin and tenant_id and origin_allowed(tenant_id, origin, after_route=True):
        response.setdefault("headers", {}).update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
    return response


def preflight(tenant_id: str, origin: str) -> Response[str]:
    """The answer to a browser's CORS preflight for one of the tenant's public POST endpoints."""
    if not origin_allowed(tenant_id, origin):
        return error_response(403, "origin_not_allowed", "This website may not post to this tenant's endpoints")
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "600",
        },
        body="",
    )
