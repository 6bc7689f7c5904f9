"""`POST /v1/public/{tenant_id}/consents` (web forms) and `GET /v1/public/confirm/{token}` (double opt-in)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from samtykke.api.cors import preflight
from samtykke.api.params import TenantId
from samtykke.api.request import http_event, public_base_url, request_evidence
from samtykke.api.responses import html_response, json_error_doc
from samtykke.domain.errors import SamtykkeError
from samtykke.models.consent import CaptureResult, ConsentSubmission
from samtykke.services.capture import capture_consent, confirm_consent
from samtykke.services.context import services
from samtykke.templates import messages, render_page

router = Router()


ERRORS: dict[int, OpenAPIResponse] = {
    400: json_error_doc("Malformed input"),
    403: json_error_doc("Origin not allowed"),
    404: json_error_doc("Unknown tenant"),
    413: json_error_doc("Body over 64 KiB"),
    415: json_error_doc("Unsupported content type"),
    422: json_error_doc("Invalid consent"),
    503: json_error_doc("Busy; retry after `Retry-After` seconds"),
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
        request_evidence(event, svc.clock(), submission.page_url).model_copy(
            update={"global_privacy_control": submission.global_privacy_control}
        ),
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
    return preflight(tenant_id, router.current_event.headers.get("origin", ""))


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
