"""`POST /v1/public/{tenant_id}/consents` (web forms) and `GET /v1/public/confirm/{token}` (double opt-in)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from samtykke.api.cors import origin_allowed
from samtykke.api.request import http_event, public_base_url, request_evidence
from samtykke.api.responses import error_response, html_response
from samtykke.domain.errors import SamtykkeError
from samtykke.models.common import ErrorBody
from samtykke.models.consent import CaptureResult, ConsentSubmission
from samtykke.services.capture import capture_consent, confirm_consent
from samtykke.services.context import services
from samtykke.templates import messages, render_page

router = Router()

TenantId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="The tenant's id")]


def _json_error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


ERRORS: dict[int, OpenAPIResponse] = {
    400: _json_error("Malformed input"),
    403: _json_error("Origin not allowed"),
    404: _json_error("Unknown tenant"),
    413: _json_error("Body over 64 KiB"),
    415: _json_error("Unsupported content type"),
    422: _json_error("Invalid consent"),
    503: _json_error("Busy; retry after `Retry-After` seconds"),
}


@router.post(
    "/v1/public/<tenant_id>/consents",
    summary="Capture consents from a web form",
    description="JSON or `application/x-www-form-urlencoded` (repeat `purpose` for several). Answers 201 with "
    "each purpose's status, or 303 to `redirect` when it is on the tenant's allow-list.",
    tags=["public"],
    responses={
        201: {"description": "Recorded", "content": {"application/json": {"model": CaptureResult}}},
        303: {"description": "Recorded; redirecting to the allowed `redirect`"},
        **ERRORS,
    },
)
def post_consents(tenant_id: TenantId, submission: Annotated[ConsentSubmission, Body()]) -> Response[str]:
    svc = services()
    event = http_event(router)
    result = capture_consent(
        svc,
        tenant_id,
        submission,
        request_evidence(event, svc.clock(), submission.page_url),
        origin=event.headers.get("origin"),
        public_base_url=public_base_url(event),
    )
    if submission.redirect:
        return Response(status_code=303, headers={"Location": submission.redirect}, body="")
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=result.model_dump_json(exclude_none=True)
    )


@router.route(
    "/v1/public/<tenant_id>/consents",
    method="OPTIONS",
    summary="CORS preflight for the consent endpoint",
    tags=["public"],
    responses={204: {"description": "The origin may post"}, 403: ERRORS[403]},
)
def preflight_consents(tenant_id: TenantId) -> Response[str]:
    origin = router.current_event.headers.get("origin", "")
    if not origin_allowed(tenant_id, origin):
        return error_response(403, "origin_not_allowed", "This website may not post consents for this tenant")
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "600",
        },
        body="",
    )


@router.get(
    "/v1/public/confirm/<token>",
    summary="Confirm a double opt-in (the link in the confirmation email)",
    tags=["public"],
    responses={
        200: {"description": "A localised HTML page", "content": {"text/html": {}}},
        400: {"description": "Invalid or expired link (HTML page)", "content": {"text/html": {}}},
        409: {"description": "Nothing left to confirm (HTML page)", "content": {"text/html": {}}},
    },
)
def confirm(token: str) -> Response[str]:
    svc = services()
    event = http_event(router)
    try:
        outcome = confirm_consent(svc, token, request_evidence(event, svc.clock()))
    except SamtykkeError as exc:
        locale = event.headers.get("accept-language", "en")[:2].lower()
        m = messages(locale)
        page = render_page(
            "confirm_page.html", locale, title=m["invalid_title"], body=m["invalid_body"], error_code=exc.code
        )
        return html_response(exc.status, page, headers={"X-Samtykke-Error": exc.code})
    m = messages(outcome.locale)
    key = "confirmed" if outcome.confirmed else "already"
    page = render_page(
        "confirm_page.html",
        outcome.locale,
        title=m[f"{key}_title"],
        body=m[f"{key}_body"].format(tenant=outcome.tenant_name),
        error_code=None,
    )
    return html_response(200, page)
