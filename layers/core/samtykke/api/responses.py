"""Building JSON and HTML responses, including the one error body: `{"error": {"code", "message"}}`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from samtykke.models.common import ErrorBody, ErrorDetail

# Pages reached by a signed link: the token is in the URL, so never leak it in a Referer or let the page be framed.
LINK_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
        headers=headers,
    )


def raw_error_response(status: int, code: str, message: str) -> dict[str, Any]:
    """The same error body as a finished API Gateway response, for checks that run outside the resolver."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message))
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": body.model_dump_json(exclude_none=True),
        "isBase64Encoded": False,
    }


def html_response(status: int, html: str, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=html,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} | (headers or {}),
    )


def json_error_doc(description: str) -> OpenAPIResponse:
    """How a route's OpenAPI entry documents one of its error statuses."""
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}
