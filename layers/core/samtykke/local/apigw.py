"""API Gateway HTTP API semantics: route matching, payload 2.0 events, Lambda authorizer requests and responses.

Pure functions over plain data, so they can be tested without sockets; `samtykke.local.front` wires them to HTTP.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from samtykke.resources import RouteSpec

API_ID = "local"
STAGE = "$default"
# HTTP APIs pass these bodies as text and base64-encode every other one, form-urlencoded and no content type included.
TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str  # as sent, still percent-encoded
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    scheme: str = "http"
    port: int = 80
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class RouteMatch:
    route: RouteSpec
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path}"


class Router:
    """Picks the most specific route, as API Gateway does: exact paths, then {param}, then a greedy {proxy+}."""

    def __init__(self, routes: Iterable[RouteSpec]) -> None:
        compiled = [(route, _path_pattern(route.path)) for route in routes]
        self._routes = sorted(compiled, key=lambda item: _specificity(item[0]))

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        for route, pattern in self._routes:
            found = pattern.fullmatch(raw_path)
            if found and route.method in (method, "ANY"):
                return RouteMatch(route, {name: unquote(value) for name, value in found.groupdict().items()})
        return None


def _path_pattern(path: str) -> re.Pattern[str]:
    def segment(part: str) -> str:
        if part.startswith("{") and part.endswith("+}"):
            return f"(?P<{part[1:-2]}>.+)"
        if part.startswith("{") and part.endswith("}"):
            return f"(?P<{part[1:-1]}>[^/]+)"
        return re.escape(part)

    return re.compile("/".join(segment(part) for part in path.split("/")))


def _specificity(route: RouteSpec) -> tuple[bool, int, bool, int]:
    # Among equals, the longer literal prefix first: `/v1/admin/purposes/{proxy+}` before `/v1/admin/{proxy+}`.
    literal_prefix = route.path.split("{", 1)[0]
    return route.path.endswith("+}"), route.path.count("{"), route.method == "ANY", -len(literal_prefix)


def join_repeated(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Join the values of repeated names with commas, as payload 2.0 does for headers and query strings."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def fold_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    return join_repeated((name.lower(), value) for name, value in pairs)


def is_text_body(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES


def http_event(request: HttpRequest, match: RouteMatch, *, account_id: str, now: datetime) -> dict[str, Any]:
    """The API Gateway HTTP API payload 2.0 event for `request` on the matched route."""
    headers = fold_headers(request.headers)
    cookie_header = headers.pop("cookie", "")
    headers["x-forwarded-for"] = ", ".join(filter(None, (headers.get("x-forwarded-for"), request.source_ip)))
    headers["x-forwarded-port"] = str(request.port)
    headers["x-forwarded-proto"] = request.scheme
    headers["x-amzn-trace-id"] = f"Root=1-{int(now.timestamp()):08x}-{secrets.token_hex(12)}"
    domain_name = headers.get("host", "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": base64.b64encode(secrets.token_bytes(10)).decode(),
            "routeKey": match.route_key,
            "stage": STAGE,
            "time": now.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookie_header:
        event["cookies"] = [cookie.strip() for cookie in re.split(r"[;,]", cookie_header) if cookie.strip()]
    if request.raw_query:
        event["queryStringParameters"] = join_repeated(parse_qsl(request.raw_query, keep_blank_values=True))
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if request.body:
        if is_text_body(headers.get("content-type")):
            event["body"] = request.body.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def authorizer_event(event: dict[str, Any], *, identity_source: list[str], region: str) -> dict[str, Any]:
    """The payload 2.0 REQUEST authorizer event that API Gateway sends before it invokes the route's integration."""
    context = event["requestContext"]
    route_arn = (
        f"arn:aws:execute-api:{region}:{context['accountId']}:{context['apiId']}/{context['stage']}"
        f"/{context['http']['method']}{event['rawPath']}"
    )
    request = {key: value for key, value in event.items() if key not in ("body", "isBase64Encoded")}
    return {**request, "type": "REQUEST", "routeArn": route_arn, "identitySource": identity_source}


def http_response(result: Any) -> HttpResponse:
    """Read a payload 2.0 response; without a statusCode, the result is a 200 JSON body, as API Gateway infers."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return json_response(200, result)
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    headers += [(name, str(v)) for name, values in (result.get("multiValueHeaders") or {}).items() for v in values]
    headers += [("Set-Cookie", cookie) for cookie in result.get("cookies") or []]
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, raw)


def json_response(status: int, payload: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(payload).encode("utf-8"))


def error_response(status: int, code: str, message: str | None = None) -> HttpResponse:
    error = {"code": code} if message is None else {"code": code, "message": message}
    return json_response(status, {"error": error})
