"""Every admin write leaves an audit entry: `api.auth.guarded` runs `audit_write` around each admin route.

The entry names the actor, the time, the sealed client IP, the route, its target (from the path's ids), the
request body (cleaned like every detail: no secrets, no addresses) and the before/after values a service noted
(`audit.note_change`). A POST under a read permission that names no action (a dry run) records nothing. A route
may name its action (`guarded(Permission.X, audit="settings.updated")`); without one, it is
`domain.audit.route_action(method, path)`. Nothing needs adding for a new route: the test in
tests/integration/test_audit_coverage.py lists every admin route of /openapi.json with the entry it must leave.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from samtykke.domain.access import READ_ACTIONS, Permission, Principal

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.types import EventHandlerInstance

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PARAM = re.compile(r"<(\w+)>")


def _request_body(raw: dict[str, Any]) -> Any:
    if raw.get("isBase64Encoded") or not raw.get("body"):
        return None
    try:
        return json.loads(raw["body"])
    except ValueError:
        return None


def _path_ids(template: str, arguments: dict[str, Any]) -> dict[str, str]:
    """The route's path parameters (its arguments also hold the parsed body and query)."""
    return {name: str(arguments[name]) for name in re.findall(r"\{(\w+)\}", template) if name in arguments}


def audit_write(
    app: EventHandlerInstance,
    next_middleware: NextMiddleware,
    principal: Principal,
    action: str | None,
    permission: Permission,
) -> Response[Any]:
    from samtykke.domain.audit import route_action, route_target
    from samtykke.services import audit
    from samtykke.services.audit.requests import current, request_audit
    from samtykke.services.context import services

    route = app.context.get("_route")
    method = str(getattr(route, "method", "") or app.current_event.http_method).upper()
    template = _PARAM.sub(r"{\1}", str(getattr(route, "path", "") or app.current_event.path))
    state = current()
    if state is None:  # resolved without guard_request (a test calling the resolver directly)
        with request_audit():
            return audit_write(app, next_middleware, principal, action, permission)
    state.route = f"{method} {template}"
    response = next_middleware(app)
    # A POST that changes nothing (a dry run) records nothing, unless the route names its action (an export).
    reads_only = permission.value.rsplit(":", 1)[-1] in READ_ACTIONS and action is None
    if method in READ_METHODS or reads_only or response.status_code >= 400 or state.recorded:
        return response
    raw = app.current_event.raw_event
    body = _request_body(raw)
    audit.record(
        services(),
        principal,
        action or route_action(method, template),
        state.target or route_target(_path_ids(template, app.context.get("_route_args") or {})),
        audit.client_ip(raw),
        {"request": body} if isinstance(body, dict) else None,
        changes=state.changes,
        route=state.route,
    )
    return response
