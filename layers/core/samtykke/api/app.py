"""The resolver every HTTP function uses: validation on, and every error mapped once, here."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from samtykke.api.responses import error_response
from samtykke.domain.errors import RetryableError, SamtykkeError
from samtykke.models.strict import HEADER_UNSAFE
from samtykke.observability import logger


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "type": error.get("type"), "msg": error.get("msg", "")}
        for error in errors
    ]


def build_resolver(*routers: Router) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(SamtykkeError)
    def _domain_error(exc: SamtykkeError) -> Response[str]:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryableError) else None
        if exc.status >= 500:
            logger.warning("Transient failure", extra={"error_code": exc.code})
        return error_response(exc.status, exc.code, exc.message, details=exc.details, headers=headers)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[str]:
        details = _validation_details(exc.errors())
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(400, "invalid_json", "The body is not valid JSON", details=details)
        if any(d["type"] == HEADER_UNSAFE for d in details):
            message = "A value that ends up in a mail or HTTP header has a line break or control character"
            return error_response(422, HEADER_UNSAFE, message, details=details)
        return error_response(422, "validation_failed", "The request does not match the schema", details=details)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content_type(exc: RequestUnsupportedContentType) -> Response[str]:
        return error_response(415, "unsupported_media_type", "Send JSON or application/x-www-form-urlencoded")

    @app.exception_handler(UnicodeDecodeError)
    def _undecodable_body(exc: UnicodeDecodeError) -> Response[str]:
        # Powertools decodes form and multipart parts as UTF-8 and lets the error through.
        return error_response(400, "malformed_body", "The body is not valid UTF-8")

    @app.not_found
    def _no_route(exc: Exception) -> Response[str]:
        return error_response(404, "route_not_found", "No such route")

    return app
