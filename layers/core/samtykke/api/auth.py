"""Admin authorisation, enforced in one place.

API Gateway's Lambda authorizer authenticates the bearer and passes the principal in the request
context. Every admin route declares its permission through `guarded(...)`, which both enforces it and
records it in the OpenAPI document (`x-samtykke-permission`), so a test can prove no route lacks one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from samtykke.domain.access import Permission, Principal, Role, Scope, parse_grants
from samtykke.domain.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    # For annotations only: the Lambda authorizer imports this module, and powertools' event handler package
    # (which it never uses) would add about a third of `import boto3` to its cold start.
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import Router
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.types import EventHandlerInstance

    from samtykke.services.operators import Operator

PERMISSION_EXTENSION = "x-samtykke-permission"
ENROLMENT_EXTENSION = "x-samtykke-mfa-enrolment"  # the route also takes an enrolment-only session
AUDIT_EXTENSION = "x-samtykke-audit"  # the action a write records, when the route names one
BEARER_SCHEME = "bearerAuth"
OPERATOR_SCHEME = "operatorKey"  # the operator API's bearer (`sko_…`), never a tenant's
OPERATOR_EXTENSION = "x-samtykke-operator"  # the route takes only an operator key


def principal_from_authorizer(event: dict[str, Any]) -> Principal:
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    try:
        return Principal(
            tenant_id=context["tenant_id"],
            principal_id=context["principal_id"],
            principal_type=context["principal_type"],
            role=Role(context["role"]),
            grants=parse_grants(context.get("grants", "")),
            scope=Scope(context.get("scope") or Scope.FULL.value),
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized("Not authenticated") from exc


def authorizer_context(principal: Principal) -> dict[str, str]:
    """What the authorizer hands API Gateway (string values only) and the integration reads back."""
    return {
        "tenant_id": principal.tenant_id,
        "principal_id": principal.principal_id,
        "principal_type": principal.principal_type,
        "role": principal.role.value,
        "grants": ",".join(sorted(g.value for g in principal.grants)),
        "scope": principal.scope.value,
    }


def _require(permission: Permission, *, enrolment: bool, audit: str | None) -> Any:
    def middleware(app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        principal = principal_from_authorizer(app.current_event.raw_event)
        if principal.scope != Scope.FULL and not enrolment:
            raise Forbidden(
                "Your tenant requires multi-factor login: enrol a factor (POST /v1/admin/me/mfa), then log in again",
                code="mfa_enrolment_required",
            )
        if not principal.may(permission):
            raise Forbidden(f"Your role may not do this ({permission.value})", code="permission_denied")
        app.append_context(principal=principal)
        from samtykke.api.audited import audit_write  # every admin write leaves its audit entry

        return audit_write(app, next_middleware, principal, audit, permission)

    return middleware


def guarded(permission: Permission, *, enrolment: bool = False, audit: str | None = None) -> dict[str, Any]:
    """Route-decorator arguments that enforce and document one permission, and audit the route's writes.

    `enrolment=True` also admits an enrolment-only session (the tenant requires MFA and the user has no factor
    yet): only the routes a user needs to enrol take it. `audit` names the action a successful write records
    (`api/audited.py`; default: from the method and path).
    """
    extensions: dict[str, Any] = {PERMISSION_EXTENSION: permission.value}
    if enrolment:
        extensions[ENROLMENT_EXTENSION] = True
    if audit:
        extensions[AUDIT_EXTENSION] = audit
    return {
        "middlewares": [_require(permission, enrolment=enrolment, audit=audit)],
        "openapi_extensions": extensions,
        "security": [{BEARER_SCHEME: []}],
    }


def current_principal(router: Router) -> Principal:
    """The request's principal (a route runs only after `guarded` has checked it).

    Read from the current event, not from `router.context`: a Router's context belongs to the LAST resolver that
    included it, and the OpenAPI document's resolver includes every router again, so in a process that builds
    both (tests, the local stack's workers) the context would be the wrong one.
    """
    return principal_from_authorizer(router.current_event.raw_event)


def authenticate_operator_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """The operator API's first check, before the resolver validates anything: an error response unless the
    request carries a live operator key. Whatever authorizer context the event had is replaced, so the route sees
    the operator and nothing else."""
    from samtykke.api.responses import raw_error_response
    from samtykke.domain.errors import SamtykkeError
    from samtykke.services.context import services
    from samtykke.services.operators import authenticate_operator

    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        operator = authenticate_operator(services(), headers.get("authorization"))
    except SamtykkeError as exc:
        return raw_error_response(exc.status, exc.code, str(exc))
    event.setdefault("requestContext", {})["authorizer"] = {
        "operator": {"key_id": operator.key_id, "name": operator.name}
    }
    return None


def operator_only() -> dict[str, Any]:
    """Route-decorator arguments for the operator API, whose function authenticates an operator key itself
    (`authenticate_operator_event`) before routing.

    API Gateway routes `/v1/operator/...` past the tenant authorizer (`resources.ROUTES`), so no tenant credential
    is ever turned into a principal here; `services/operators.py` accepts only a live operator key.
    """
    return {
        "openapi_extensions": {OPERATOR_EXTENSION: True},
        "security": [{OPERATOR_SCHEME: []}],
    }


def current_operator(router: Router) -> Operator:
    """The request's operator (a route runs only after `operator_only` has authenticated it)."""
    from samtykke.services.operators import Operator

    found = ((router.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}).get("operator")
    if not isinstance(found, dict):
        raise Unauthorized("Not authenticated as the operator", code="operator_credential_required")
    return Operator(key_id=str(found["key_id"]), name=str(found["name"]))
