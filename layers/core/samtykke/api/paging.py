"""Cursor paging for lists that a route holds whole in memory (the tenant's catalogue, its users and keys).

The answer stays the JSON array it always was, so existing clients keep working. With `limit`, it holds at most
that many rows, in a stable order (each list's sort key), and when more follow it carries the next page's cursor
in `X-Next-Cursor` and in an RFC 8288 `Link: <…>; rel="next"` header. A cursor names the last row's sort key, so a
row added or removed between pages neither repeats nor skips another.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from samtykke.domain.errors import BadRequest

M = TypeVar("M", bound=BaseModel)

MAX_LIMIT = 500
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="At most this many rows; omit for all")]
Cursor = Annotated[str | None, Query(max_length=1024, description="`X-Next-Cursor` from the previous page")]
NEXT_CURSOR = "X-Next-Cursor"


def paged_doc(description: str) -> dict[int, OpenAPIResponse]:
    """The 200 of a paged list route, for its OpenAPI entry."""
    return {
        200: {
            "description": f"{description}. With `limit`, when more rows follow, `{NEXT_CURSOR}` holds the next "
            'page\'s cursor and `Link` its URL (rel="next").',
            # The route returns a finished Response, so the body's shape is stated here: an array of the rows.
            "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
        }
    }


def page(
    router: Router, rows: Sequence[M], sort_key: Callable[[M], str], *, limit: int | None, cursor: str | None
) -> Response[str]:
    after = _decode(cursor) if cursor else None
    ordered = sorted(rows, key=sort_key)
    remaining = [row for row in ordered if after is None or sort_key(row) > after]
    shown = remaining if limit is None else remaining[:limit]
    headers: dict[str, str] = {}
    if limit is not None and len(remaining) > limit:
        next_cursor = base64.urlsafe_b64encode(sort_key(shown[-1]).encode()).decode().rstrip("=")
        headers[NEXT_CURSOR] = next_cursor
        headers["Link"] = f'<{_next_url(router, next_cursor)}>; rel="next"'
    body = "[" + ",".join(row.model_dump_json() for row in shown) + "]"
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _decode(cursor: str) -> str:
    try:
        padded = (cursor + "=" * (-len(cursor) % 4)).encode()
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("The cursor is not one this API gave out", code="invalid_cursor") from exc


def _next_url(router: Router, next_cursor: str) -> str:
    event: Any = router.current_event
    query = {k: v for k, v in (event.query_string_parameters or {}).items() if k != "cursor"}
    return f"{event.path}?{urlencode(query | {'cursor': next_cursor})}"
