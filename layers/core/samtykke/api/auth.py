"""Admin authorisation, enforced in one place.

API Gateway's Lambda authorizer authenticates the bearer and passes the principal in the request
context. Every admin route declares its permission through `guarded(...)`, which both enforces it and
records it in the OpenAPI document (`x-samtykke-permission`), so a test can prove no route lacks one.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.types import EventHandlerInstance

from samtykke.domain.access import Permission, Principal, Role
from samtykke.domain.errors import Forbidden, Unauthorized

PERMISSION_EXTENSION = "x-samtykke-permission"
BEARER_SCHEME = "bearerAuth"


def principal_from_authorizer(event: dict[str, Any]) -> Principal:
    context = (event.get("requestContext") or {}).get("authorizer", {}).get("lambda") or {}
    try:
        return Principal(
            tenant_id=context["tenant_id"],
            principal_id=context["principal_id"],
            principal_type=context["principal_type"],
            role=Role(context["role"]),
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized("Not authenticated") from exc


def authorizer_context(principal: Principal) -> dict[str, str]:
    return {
        "tenant_id": principal.tenant_id,
        "principal_id": principal.principal_id,
        "principal_type": principal.principal_type,
        "role": principal.role.value,
    }


def _require(permission: Permission) -> Any:
    def middleware(app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        principal = principal_from_authorizer(app.current_event.raw_event)
        if not principal.may(permission):
            raise Forbidden(f"Your role may not do this ({permission.value})", code="permission_denied")
        app.append_context(principal=principal)
        return next_middleware(app)

    return middleware


def guarded(permission: Permission) -> dict[str, Any]:
    """Route-decorator arguments that enforce and document one permission."""
    return {
        "middlewares": [_require(permission)],
        "openapi_extensions": {PERMISSION_EXTENSION: permission.value},
        "security": [{BEARER_SCHEME: []}],
    }


def current_principal(router: Router) -> Principal:
    principal: Principal = router.context["principal"]
    return principal
