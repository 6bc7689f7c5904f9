"""Browser form posts that fail get something a browser can show, not raw JSON.

A POST from an HTML form (form-urlencoded or multipart, with `Accept` naming `text/html`, which browsers send on
a form submission) that the consent endpoint refuses with a 4xx gets, instead of the JSON error:
- a 303 to the form's `error_redirect`, with `error=<code>` added to its query, when that URL is on the tenant's
  `allowed_redirects` (the same check as `redirect`, so it is never an open redirect);
- otherwise a small localised HTML page (the form's `locale`, else `Accept-Language`) naming the problem, with a
  link back to the page the form was on (its `Referer`, else its `page_url`), and the code.

Scripts posting JSON, and `fetch` calls that ask for JSON, still get the JSON error. Either way nothing was
written: this only reshapes the answer to a request that was refused.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.api.forms import form_fields
from samtykke.domain.defaults import FALLBACK_LOCALE
from samtykke.domain.errors import SamtykkeError
from samtykke.templates import render_page
from samtykke.templates.form_error_messages import FORM_ERRORS, PROBLEMS

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@lambda_handler_decorator
def html_form_errors(handler: Any, event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = handler(event, context)
    if not 400 <= int(response.get("statusCode", 200)) < 500 or not is_browser_form_post(event):
        return response
    code = _error_code(response)
    if code is None:
        return response
    return form_error_response(APIGatewayProxyEventV2(event), int(response["statusCode"]), code)


def is_browser_form_post(event: dict[str, Any]) -> bool:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return method == "POST" and media_type in FORM_TYPES and "text/html" in headers.get("accept", "").lower()


def form_error_response(event: APIGatewayProxyEventV2, status: int, code: str) -> dict[str, Any]:
    try:
        fields = form_fields(event)
    except SamtykkeError:
        fields = {}
    target = _allowed_error_redirect(event, fields.get("error_redirect"))
    if target is not None:
        return {
            "statusCode": 303,
            "headers": {"Location": _with_code(target, code), "X-Samtykke-Error": code},
            "body": "",
        }
    locale = _locale(fields.get("locale"), event.headers.get("accept-language"))
    texts = FORM_ERRORS[locale]
    back = next((url for url in (event.headers.get("referer"), fields.get("page_url")) if _is_web_url(url)), None)
    page = render_page(
        "form_error_page.html",
        locale,
        t=texts,
        problem=texts[PROBLEMS.get(code, "problem_other")],
        back_url=back,
        error_code=code,
    )
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Samtykke-Error": code,
        },
        "body": page,
    }


def _error_code(response: dict[str, Any]) -> str | None:
    try:
        body = json.loads(response.get("body") or "")
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _allowed_error_redirect(event: APIGatewayProxyEventV2, url: str | None) -> str | None:
    tenant_id = (event.path_parameters or {}).get("tenant_id")
    if not url or not tenant_id or not _is_web_url(url):
        return None
    from samtykke.services.capture import check_redirect
    from samtykke.services.context import services

    try:
        check_redirect(services().catalogs.get(tenant_id), url)
    except SamtykkeError:  # not allowed, or no such tenant: show the page instead
        return None
    return url


def _with_code(url: str, code: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("error", code)]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))  # re-encoded: nothing raw reaches Location


def _locale(form_locale: str | None, accept_language: str | None) -> str:
    for candidate in (form_locale, *(part.split(";")[0] for part in (accept_language or "").split(","))):
        language = (candidate or "").strip().lower()[:2]
        if language == "no":
            language = "nb"
        if language in FORM_ERRORS:
            return language
    return FALLBACK_LOCALE


def _is_web_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme in ("http", "https") and bool(urlsplit(url or "").netloc)
