"""Checks on the raw API Gateway event, made before the resolver parses anything.

Powertools validates bodies before any resolver middleware runs, so limits on the raw body (size, JSON
nesting depth, a multipart body without a boundary: each of which powertools or `json` would turn into a
500) are enforced here, around `app.resolve`. Admin responses are shaped here too (`api/shaping.py`), so
every function that serves an admin route masks the same way, errors included.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.middleware_factory import lambda_handler_decorator

from samtykke.api.responses import raw_error_response
from samtykke.domain.json_bounds import MAX_JSON_DEPTH, json_depth
from samtykke.settings import get_settings

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ADMIN_PREFIX = "/v1/admin/"


def _body_bytes(event: dict[str, Any]) -> bytes | None:
    """The body as bytes, or None when a body flagged base64 is not base64."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode(errors="surrogateescape")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        return None


def _may_be_json(content_type: str) -> bool:
    """Powertools parses a body with no content type as JSON; `+json` types are JSON too."""
    media_type = content_type.split(";", 1)[0].strip()
    return media_type in ("", "application/json") or media_type.endswith("+json")


def _rejection(event: dict[str, Any]) -> tuple[int, str, str] | None:
    limit = get_settings().max_body_bytes
    body = _body_bytes(event)
    if body is None:
        return 400, "malformed_body", "The body is not valid base64"
    if len(body) > limit:
        return 413, "payload_too_large", f"The body is larger than {limit} bytes"
    content_type = (event.get("headers") or {}).get("content-type", "").lower()
    if content_type.startswith("multipart/form-data") and "boundary=" not in content_type:
        return 400, "malformed_multipart", "A multipart body needs a boundary"
    if _may_be_json(content_type) and json_depth(body) > MAX_JSON_DEPTH:
        return 400, "json_too_deep", f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels"
    return None


@lambda_handler_decorator
def guard_request(handler: Handler, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every HTTP function's outer check; on admin paths it also shapes the response to what the caller may see."""
    rejection = _rejection(event)
    if not str(event.get("rawPath", "")).startswith(ADMIN_PREFIX):
        return handler(event, context) if rejection is None else raw_error_response(*rejection)
    from samtykke.api.shaping import shape_admin_response  # masking, withholding, the read's audit entry
    from samtykke.services.audit.requests import request_audit  # what the request tells the audit log

    with request_audit():
        response = handler(event, context) if rejection is None else raw_error_response(*rejection)
        return shape_admin_response(event, response)
