"""Web-form consent capture, and the double opt-in link `/v1/public/confirm/{token}` (GET shows, POST confirms)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.api.cors import preflight
from samtykke.api.params import TenantId
from samtykke.api.request import http_event, public_base_url, request_evidence
from samtykke.api.responses import LINK_PAGE_HEADERS, html_response, json_error_doc
from samtykke.domain.defaults import FALLBACK_LOCALE, SUPPORTED_LOCALES
from samtykke.domain.errors import RetryableError, SamtykkeError
from samtykke.domain.links import accept_language_locale
from samtykke.models.consent import CaptureResult, ConsentSubmission
from samtykke.services.capture import capture_consent, confirm_consent, confirmation_prompt
from samtykke.services.context import services
from samtykke.services.evidence_log import parental
from samtykke.templates import messages, render_page

router = Router()

Token = Annotated[str, Path(max_length=1024, description="The signed token from the confirmation email")]


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


CONFIRM_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "A localised HTML page", "content": {"text/html": {}}},
    400: {"description": "Invalid or expired link (HTML page; code in X-Samtykke-Error)", "content": {"text/html": {}}},
    409: {"description": "Nothing left to confirm (HTML page)", "content": {"text/html": {}}},
}


def _confirm_error(event: APIGatewayProxyEventV2, exc: SamtykkeError) -> Response[str]:
    locale = accept_language_locale(event.headers.get("accept-language"), SUPPORTED_LOCALES) or FALLBACK_LOCALE
    m = messages(locale)
    page = render_page(
        "confirm_page.html", locale, title=m["invalid_title"], body=m["invalid_body"], error_code=exc.code
    )
    headers = LINK_PAGE_HEADERS | {"X-Samtykke-Error": exc.code}
    if isinstance(exc, RetryableError):
        headers["Retry-After"] = str(exc.retry_after)
    return html_response(exc.status, page, headers=headers)


@router.get(
    "/v1/public/confirm/<token>",
    summary="The double opt-in page (the link in the confirmation email)",
    description="A localised page with one button. A GET changes nothing, so mail scanners that open links "
    "confirm nothing; the button POSTs to the same URL.",
    tags=["public"],
    responses=CONFIRM_RESPONSES,
)
def confirm_page(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        prompt = confirmation_prompt(svc, token, event.headers.get("accept-language"))
    except SamtykkeError as exc:
        return _confirm_error(event, exc)
    m = messages(prompt.locale)
    page = render_page(
        "confirm_prompt.html",
        prompt.locale,
        tenant=prompt.tenant_name,
        button=m["confirm_button"],
        intro=m["confirm_page_intro"].format(tenant=prompt.tenant_name),
        note=m["confirm_page_changes"] if prompt.updates_profile else None,
        ignore=m["confirm_ignore"],
    )
    return html_response(200, page, headers=LINK_PAGE_HEADERS)


@router.post(
    "/v1/public/confirm/<token>",
    summary="Confirm a double opt-in (the page's button)",
    description="Grants each consent the link names that still waits for confirmation, applies the profile "
    "change the post proposed, and records the confirming IP, user agent and time as the evidence. Idempotent.",
    tags=["public"],
    responses=CONFIRM_RESPONSES,
)
def confirm(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        outcome = confirm_consent(svc, token, request_evidence(event, svc.clock()))
    except SamtykkeError as exc:
        return _confirm_error(event, exc)
    m = messages(outcome.locale)
    key = "confirmed" if outcome.confirmed else "already"
    page = render_page(
        "confirm_page.html",
        outcome.locale,
        title=m[f"{key}_title"],
        body=m[f"{key}_body"].format(tenant=outcome.tenant_name),
        error_code=None,
    )
    return html_response(200, page, headers=LINK_PAGE_HEADERS)


@router.get(
    "/v1/public/parental/<token>",
    summary="The parent's page for a minor's consent (the link in the parent's email)",
    description="A localised page with one button. A GET changes nothing; the button POSTs to the same URL.",
    tags=["public"],
    responses=CONFIRM_RESPONSES,
)
def parental_page(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        prompt = parental.parental_prompt(svc, token, event.headers.get("accept-language"))
    except SamtykkeError as exc:
        return _confirm_error(event, exc)
    m = messages(prompt.locale)
    page = render_page(
        "confirm_prompt.html",
        prompt.locale,
        tenant=prompt.tenant_name,
        button=m["parent_button"],
        intro=m["parent_page_intro"].format(tenant=prompt.tenant_name, purposes=prompt.purposes),
        note=None,
        ignore=m["parent_ignore"],
    )
    return html_response(200, page, headers=LINK_PAGE_HEADERS)


@router.post(
    "/v1/public/parental/<token>",
    summary="A parent confirms a minor's consent (GDPR Art. 8)",
    description="Grants each consent the link names that waits for a parent, recording the parent's confirmation "
    "(IP, user agent, time) in the child's consent log. Idempotent.",
    tags=["public"],
    responses=CONFIRM_RESPONSES,
)
def parental_confirm(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        outcome = parental.confirm_parental(svc, token, request_evidence(event, svc.clock()))
    except SamtykkeError as exc:
        return _confirm_error(event, exc)
    m = messages(outcome.locale)
    page = render_page(
        "confirm_page.html",
        outcome.locale,
        title=m["parent_confirmed_title"],
        body=m["parent_confirmed_body"].format(tenant=outcome.tenant_name),
        error_code=None,
    )
    return html_response(200, page, headers=LINK_PAGE_HEADERS)
