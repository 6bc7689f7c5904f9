"""`/u/{token}` (unsubscribe), `/p/{token}` (preference centre) and the fresh-link request: contact-facing pages.

The pages are plain HTML forms that work with JavaScript off. A GET never changes anything. Every failure is
an HTML page with a 4xx status, its code in `X-Samtykke-Error`, and nothing written.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.api.cors import preflight
from samtykke.api.forms import form_fields
from samtykke.api.params import TenantId
from samtykke.api.request import http_event, public_base_url, request_evidence
from samtykke.api.responses import LINK_PAGE_HEADERS as PAGE_HEADERS
from samtykke.api.responses import html_response, json_error_doc
from samtykke.domain.consent import Channel
from samtykke.domain.defaults import FALLBACK_LOCALE, SUPPORTED_LOCALES
from samtykke.domain.errors import InvalidInput, RetryableError, SamtykkeError
from samtykke.domain.links import UnsubscribeScope, UnsubscribeVia, accept_language_locale
from samtykke.models.common import ErrorBody
from samtykke.models.links import PreferenceLinkAccepted, PreferenceLinkRequest
from samtykke.services import preferences, unsubscribe
from samtykke.services.context import Services, services
from samtykke.services.links import peek_tenant
from samtykke.templates import messages, render_page

router = Router()

Token = Annotated[str, Path(max_length=1024, description="The signed token from the link")]

# Codes for which the error page offers to email a fresh link.
FRESH_LINK_CODES = frozenset({"invalid_token", "token_expired", "link_expired", "contact_not_found"})


PAGE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "A localised HTML page", "content": {"text/html": {}}},
    400: {"description": "A forged, altered or retired link (HTML page; code in X-Samtykke-Error)"},
    404: {"description": "The tenant or the contact no longer exists (HTML page)"},
    503: {"description": "Busy; retry after `Retry-After` seconds (HTML page)"},
    # Checked before the page is built: no link of ours is that long (JSON, as every validation error).
    422: json_error_doc("The token is longer than 1024 characters"),
}


def _page(status: int, html: str, headers: dict[str, str] | None = None) -> Response[str]:
    return html_response(status, html, headers=PAGE_HEADERS | (headers or {}))


def _error_locale(svc: Services, event: APIGatewayProxyEventV2, tenant_id: str | None) -> str:
    preferred = accept_language_locale(event.headers.get("accept-language"), SUPPORTED_LOCALES)
    if preferred:
        return preferred
    if tenant_id:
        try:
            default = svc.catalogs.get(tenant_id).tenant.default_locale
        except SamtykkeError:
            return FALLBACK_LOCALE
        return default if default in SUPPORTED_LOCALES else FALLBACK_LOCALE
    return FALLBACK_LOCALE


def _error_page(svc: Services, event: APIGatewayProxyEventV2, token: str, exc: SamtykkeError) -> Response[str]:
    tenant_id = peek_tenant(token)
    headers = {"X-Samtykke-Error": exc.code}
    if isinstance(exc, RetryableError):
        headers["Retry-After"] = str(exc.retry_after)
    # Relative, so it works under any stage path or custom domain: /u/{token} -> /v1/public/{tenant}/…
    action = f"../v1/public/{tenant_id}/preference-link" if tenant_id and exc.code in FRESH_LINK_CODES else None
    page = render_page(
        "link_error.html", _error_locale(svc, event, tenant_id), error_code=exc.code, fresh_link_action=action
    )
    return _page(exc.status, page, headers)


# --- unsubscribe ----------------------------------------------------------------------------------------


@router.get(
    "/u/<token>",
    summary="The unsubscribe page (the link in every marketing email)",
    description="A localised page with one button. A GET never unsubscribes anyone, so link scanners and "
    "prefetchers are harmless.",
    tags=["public"],
    responses=PAGE_RESPONSES,
)
def unsubscribe_page(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        view = unsubscribe.unsubscribe_page(svc, token, base_url=public_base_url(event))
    except SamtykkeError as exc:
        return _error_page(svc, event, token, exc)
    return _page(200, render_page("unsubscribe_page.html", view.locale, view=view))


@router.post(
    "/u/<token>",
    summary="Unsubscribe (the page's button, or RFC 8058 one-click)",
    description="Withdraws the consent the token names and suppresses the address for that purpose at once. "
    "The body is `List-Unsubscribe=One-Click` (form-urlencoded or multipart) from a mail client, or the page's "
    "form: `scope` (`purpose`, the default, or `all` for every consent on every channel) and an optional "
    "`reason`. Answers 200 (never a redirect), needs no cookie or login, and is idempotent.",
    tags=["public"],
    responses=PAGE_RESPONSES,
)
def unsubscribe_post(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        fields = form_fields(event)
        outcome = unsubscribe.unsubscribe(
            svc,
            token,
            via=UnsubscribeVia.ONE_CLICK if fields.get("List-Unsubscribe") == "One-Click" else UnsubscribeVia.PAGE,
            scope=UnsubscribeScope.ALL if fields.get("scope") == UnsubscribeScope.ALL else UnsubscribeScope.PURPOSE,
            reason=fields.get("reason"),
            evidence=request_evidence(event, svc.clock()),
            base_url=public_base_url(event),
        )
    except SamtykkeError as exc:
        return _error_page(svc, event, token, exc)
    everything = outcome.scope is UnsubscribeScope.ALL
    page = render_page("unsubscribe_done.html", outcome.view.locale, view=outcome.view, everything=everything)
    return _page(200, page)


# --- the preference centre ------------------------------------------------------------------------------


@router.get(
    "/p/<token>",
    summary="The preference centre",
    description="The tenant's active purposes with the contact's state on each channel, its sub-processors and "
    "privacy policy. Reads only.",
    tags=["public"],
    responses=PAGE_RESPONSES,
)
def preference_page(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        view = preferences.preference_page(svc, token, base_url=public_base_url(event))
    except SamtykkeError as exc:
        return _error_page(svc, event, token, exc)
    return _page(200, render_page("preferences_page.html", view.locale, view=view))


def _change(fields: dict[str, str]) -> tuple[str, Channel, preferences.Action, int | None]:
    try:
        channel = Channel(fields.get("channel", ""))
        action = preferences.Action(fields.get("action", ""))
        version = fields.get("text_version")
        text_version = int(version) if version else None
    except ValueError as exc:
        raise InvalidInput("Give purpose, channel, action (grant or withdraw) and text_version") from exc
    return fields.get("purpose", ""), channel, action, text_version


@router.post(
    "/p/<token>",
    summary="Change one consent in the preference centre",
    description="A form post: `purpose`, `channel`, `action` (`grant` or `withdraw`) and, for a grant, the "
    "`text_version` the page showed. One step either way; the change is logged like any other.",
    tags=["public"],
    responses={
        **PAGE_RESPONSES,
        422: {
            "description": "Not a change the page offers (HTML page), or a token over 1024 characters (JSON)",
            "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"model": ErrorBody}},
        },
    },
)
def preference_post(token: Token) -> Response[str]:
    svc, event = services(), http_event(router)
    try:
        purpose_id, channel, action, text_version = _change(form_fields(event))
        view = preferences.change_preference(
            svc,
            token,
            purpose_id=purpose_id,
            channel=channel,
            action=action,
            text_version=text_version,
            evidence=request_evidence(event, svc.clock()),
        )
    except SamtykkeError as exc:
        return _error_page(svc, event, token, exc)
    return _page(200, render_page("preferences_page.html", view.locale, view=view))


# --- a fresh link ---------------------------------------------------------------------------------------


@router.post(
    "/v1/public/<tenant_id>/preference-link",
    summary="Ask for a fresh preference-centre link by email address",
    description="Emails a link (valid for 7 days) if the address belongs to a contact. The answer is the same "
    "either way. Rate-limited per address and per source IP: 429 `rate_limited` with `Retry-After`. A browser "
    "form post (`Accept: text/html`) gets an HTML page.",
    tags=["public"],
    responses={
        202: {"description": "Accepted", "content": {"application/json": {"model": PreferenceLinkAccepted}}},
        404: json_error_doc("Unknown tenant"),
        422: json_error_doc("Not an email address"),
        429: json_error_doc("Too many requests; retry after `Retry-After` seconds"),
    },
)
def request_preference_link(tenant_id: TenantId, request: Annotated[PreferenceLinkRequest, Body()]) -> Response[str]:
    svc, event = services(), http_event(router)
    wants_html = "text/html" in (event.headers.get("accept") or "")
    try:
        preferences.request_preference_link(
            svc,
            tenant_id,
            request.email,
            source_ip=event.request_context.http.source_ip,
            base_url=public_base_url(event),
        )
    except SamtykkeError as exc:
        if not wants_html:
            raise
        headers = {"X-Samtykke-Error": exc.code}
        busy = isinstance(exc, RetryableError)
        if isinstance(exc, RetryableError):
            headers["Retry-After"] = str(exc.retry_after)
        locale = _error_locale(svc, event, tenant_id)
        m = messages(locale)
        page = render_page(
            "fresh_link_page.html",
            locale,
            title=m["fresh_limited_title"] if busy else m["fresh_invalid_title"],
            body=m["fresh_limited_body"] if busy else m["fresh_invalid_body"],
            error_code=exc.code,
        )
        return _page(exc.status, page, headers)
    if wants_html:
        locale = _error_locale(svc, event, tenant_id)
        m = messages(locale)
        page = render_page(
            "fresh_link_page.html", locale, title=m["fresh_sent_title"], body=m["fresh_sent_body"], error_code=None
        )
        return _page(202, page)
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=PreferenceLinkAccepted().model_dump_json()
    )


@router.route(
    "/v1/public/<tenant_id>/preference-link",
    method="OPTIONS",
    summary="CORS preflight for the fresh-link request",
    tags=["public"],
    responses={204: {"description": "The origin may post"}, 403: json_error_doc("Origin not allowed")},
)
def preflight_preference_link(tenant_id: TenantId) -> Response[str]:
    return preflight(tenant_id, router.current_event.headers.get("origin", ""))
