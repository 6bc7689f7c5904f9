"""The HTTP front: a WSGI app that plays API Gateway for the real handlers, plus a few local-only endpoints."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from samtykke.local import LOGGER
from samtykke.local.access_log import redact_path
from samtykke.local.apigw import (
    HttpRequest,
    HttpResponse,
    Router,
    authorizer_event,
    error_response,
    http_event,
    http_response,
)
from samtykke.local.lambdas import LOCAL_ACCOUNT_ID, Invoker

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(f"{LOGGER}.front")

AUTHORIZER = "authorizer"  # the function behind every route with auth "admin"

LocalEndpoint = Callable[[Request], Response]


class Front:
    """Routes each request to a local endpoint, or through the authorizer to the route's function, as API Gateway."""

    def __init__(
        self,
        router: Router,
        invoke: Invoker,
        *,
        region: str,
        local_endpoints: Mapping[tuple[str, str], LocalEndpoint],
    ) -> None:
        self._router = router
        self._invoke = invoke
        self._region = region
        self._local_endpoints = local_endpoints

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request = Request(environ)
        response = self._respond(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %d (%.0f ms)", request.method, redact_path(request.path), response.status_code, elapsed_ms)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        endpoint = self._local_endpoints.get((request.method, request.path))
        if endpoint is not None:
            return endpoint(request)
        raw_path = urlsplit(request.environ.get("RAW_URI", request.path)).path
        match = self._router.match(request.method, raw_path)
        if match is None:
            return _to_werkzeug(error_response(404, "route_not_found", f"No route for {request.method} {raw_path}"))
        event = http_event(
            HttpRequest(
                method=request.method,
                raw_path=raw_path,
                raw_query=request.query_string.decode("latin-1"),
                headers=list(request.headers.items()),
                body=request.get_data(cache=False),
                source_ip=request.remote_addr or "127.0.0.1",
                scheme=request.scheme,
                port=int(request.environ["SERVER_PORT"]),
                protocol=request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            ),
            match,
            account_id=LOCAL_ACCOUNT_ID,
            now=datetime.now(UTC),
        )
        try:
            if match.route.auth == "admin":
                denied = self._authorize(event)
                if denied is not None:
                    return _to_werkzeug(denied)
            return _to_werkzeug(http_response(self._invoke(match.route.function, event)))
        except Exception:
            log.exception("%s raised on %s", match.route.function, match.route_key)
            return _to_werkzeug(error_response(500, "internal_error"))

    def _authorize(self, event: dict[str, Any]) -> HttpResponse | None:
        """Run the Lambda authorizer (simple responses); on success, hand its context to the integration."""
        token = event["headers"].get("authorization")
        if not token:  # the identity source is missing: API Gateway answers 401 without calling the authorizer
            return error_response(401, "unauthorized", "Unauthorized")
        decision = self._invoke(AUTHORIZER, authorizer_event(event, identity_source=[token], region=self._region))
        if not decision.get("isAuthorized"):
            return error_response(403, "unauthorized", "Forbidden")
        event["requestContext"]["authorizer"] = {"lambda": decision.get("context") or {}}
        return None


def _to_werkzeug(response: HttpResponse) -> Response:
    return Response(response.body, status=response.status, headers=response.headers)
