"""Checks on the raw API Gateway event, made before the resolver parses anything.

Powertools validates bodies before any resolver middleware runs, so limits on the raw body (size, a
multipart body without a boundary, which powertools would turn into a 500) are enforced here, around
`app.resolve`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.middleware_factory import lambda_handler_decorator

from samtykke.api.responses import raw_error_response
from samtykke.settings import get_settings

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    return len(base64.b64decode(body)) if event.get("isBase64Encoded") else len(body.encode())


def _rejection(event: dict[str, Any]) -> tuple[int, str, str] | None:
    limit = get_settings().max_body_bytes
    if _body_size(event) > limit:
        return 413, "payload_too_large", f"The body is larger than {limit} bytes"
    content_type = (event.get("headers") or {}).get("content-type", "").lower()
    if content_type.startswith("multipart/form-data") and "boundary=" not in content_type:
        return 400, "malformed_multipart", "A multipart body needs a boundary"
    return None


@lambda_handler_decorator
def guard_request(handler: Handler, event: dict[str, Any], context: Any) -> dict[str, Any]:
    rejection = _rejection(event)
    if rejection is None:
        return handler(event, context)
    return raw_error_response(*rejection)
