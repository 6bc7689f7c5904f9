"""Reading a POSTed form from the raw event: form-urlencoded, multipart/form-data (base64 from API Gateway), JSON.

The unsubscribe and preference routes read their few fields here rather than through the validation
middleware, so that any mail client's RFC 8058 one-click POST is understood and never becomes a 415 or a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.domain.errors import BadRequest

MAX_FIELDS = 50


class MalformedForm(BadRequest):
    code = "malformed_form"


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedForm("The body is not valid base64") from exc


def form_fields(event: APIGatewayProxyEventV2) -> dict[str, str]:
    """The form's fields (the first value of each name). A body of another type, or none, has no fields."""
    content_type = event.headers.get("content-type") or ""
    return parse_form(content_type, raw_body(event))


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return {}
    if media_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        return _first_values(pairs)
    if media_type == "multipart/form-data":
        return _multipart(content_type, body)
    if media_type == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedForm("The body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise MalformedForm("The body must be a JSON object")
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | bool)}
    return {}


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    # Imported here: the email package's parser costs a few ms of every cold start, and few clients post multipart.
    from email import policy
    from email.parser import BytesParser

    try:
        header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("ascii")
    except UnicodeEncodeError as exc:
        raise MalformedForm("The content type is malformed") from exc
    message = BytesParser(policy=policy.HTTP).parsebytes(header + body)
    parts = list(message.iter_parts()) if message.is_multipart() else []
    if not parts:
        raise MalformedForm("The multipart body has no parts", code="malformed_multipart")
    pairs: list[tuple[str, str]] = []
    for part in parts[:MAX_FIELDS]:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue  # an unnamed part, or an uploaded file: not a form field we read
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        charset = part.get_content_charset() or "utf-8"
        try:
            value = data.decode(charset, errors="replace")
        except LookupError:
            value = data.decode("utf-8", errors="replace")
        pairs.append((name, value))
    return _first_values(pairs)
