"""Shaping every admin response to what the caller may see: the one place masking happens.

`api.guards.guard_request`, which wraps every HTTP function's handler, calls `shape_admin_response` on every
response to a `/v1/admin/...` path. It reads the principal that the authorizer put in the request context and
rewrites the response body (JSON structurally, other text by pattern), errors included, so no route and no
function can forget it:

- without `addresses:read` (the `author` role): emails and phones are masked (`j***@example.dk`);
- without `evidence:read`: consent evidence is withheld;
- without `sensitive:read`: national IDs, the tenant's `sensitive_fields` and sensitive custom fields are redacted;
- every read that shows contacts' data is recorded in the audit log before it leaves, naming each contact
  (`contact.read`; `contact.sensitive_read` when it shows sensitive values to `sensitive:read`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from samtykke.api.auth import principal_from_authorizer
from samtykke.domain.access import Permission, Principal
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import SamtykkeError
from samtykke.domain.masking import Shaping, has_sensitive_values, mask_text, sensitive_keys, shape
from samtykke.observability import logger


def _tenant_redacted_fields(tenant_id: str) -> list[str]:
    from samtykke.services.context import services

    try:
        return services().catalogs.get(tenant_id).tenant.redacted_fields()
    except SamtykkeError:
        return []


def shaping_for(principal: Principal | None) -> Shaping:
    if principal is None:  # nothing to show anyone unauthenticated: mask everything
        return Shaping(mask_addresses=True, withhold_evidence=True, redact_keys=sensitive_keys([]))
    return Shaping(
        mask_addresses=not principal.may(Permission.ADDRESSES_READ),
        withhold_evidence=not principal.may(Permission.EVIDENCE_READ),
        redact_keys=frozenset()
        if principal.may(Permission.SENSITIVE_READ)
        else sensitive_keys(_tenant_redacted_fields(principal.tenant_id)),
    )


def _content_type(response: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    value = headers.get("content-type") or (multi.get("content-type") or [""])[0]
    return str(value).lower()


CONTACT_IN_PATH = re.compile(r"/contacts/(con_[A-Za-z0-9]+)")
ADDRESS_LOOKUPS = ("email", "phone", "national_id")


def contact_ids_in(data: Any, found: dict[str, None] | None = None, depth: int = 0) -> list[str]:
    """Every `contact_id` value in a response body, in order, once each."""
    found = {} if found is None else found
    if depth > 8:
        return list(found)
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "contact_id" and isinstance(value, str):
                found[value] = None
            else:
                contact_ids_in(value, found, depth + 1)
    elif isinstance(data, list):
        for value in data:
            contact_ids_in(value, found, depth + 1)
    return list(found)


def _audit_personal_read(event: dict[str, Any], principal: Principal, data: Any) -> None:
    """A read that shows contacts' data names each of them; one that shows sensitive values says so."""
    http = (event.get("requestContext") or {}).get("http") or {}
    if str(http.get("method", "GET")).upper() != "GET":
        return
    sensitive_shown = principal.may(Permission.SENSITIVE_READ) and has_sensitive_values(
        data, sensitive_keys(_tenant_redacted_fields(principal.tenant_id))
    )
    in_path = CONTACT_IN_PATH.findall(str(event.get("rawPath", "")))
    contacts = list(dict.fromkeys([*in_path, *contact_ids_in(data)]))
    query = event.get("queryStringParameters") or {}
    looked_up = any(query.get(name) for name in ADDRESS_LOOKUPS)  # a lookup by address reads it, found or not
    if not contacts and not sensitive_shown and not looked_up:
        return
    from samtykke.services.audit.requests import current

    state = current()
    if state is not None and state.recorded and not sensitive_shown:
        return  # the route recorded its own entry for this read (an export)
    from samtykke.services import audit
    from samtykke.services.context import services

    request = f"{http.get('method', '')} {event.get('rawPath', '')}"
    audit.record(
        services(),
        principal,
        AuditAction.SENSITIVE_READ if sensitive_shown else AuditAction.CONTACT_READ,
        ("contact", contacts[0]) if len(contacts) == 1 else ("request", request),
        audit.client_ip(event),
        {"query": query, "count": len(contacts)},
        contacts=contacts,
        route=str(event.get("routeKey") or request),
    )


def shape_response(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body")
    if not isinstance(body, str) or not body or response.get("isBase64Encoded"):
        return response
    try:
        principal: Principal | None = principal_from_authorizer(event)
    except SamtykkeError:
        principal = None
    shaping = shaping_for(principal)
    content_type = _content_type(response)
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if data is not None:
            if principal is not None and response["statusCode"] < 300:
                _audit_personal_read(event, principal, data)
            if shaping.is_noop:
                return response
            return {**response, "body": json.dumps(shape(data, shaping), separators=(",", ":"))}
    if shaping.mask_addresses:
        return {**response, "body": mask_text(body)}
    return response


def shape_admin_response(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """`api.guards.guard_request` calls this on every response to an admin path."""
    try:
        return shape_response(event, response)
    except SamtykkeError as exc:  # the audit write failed: the data must not leave unrecorded
        logger.warning("Response withheld: its sensitive read could not be audited", extra={"code": exc.code})
        from samtykke.api.responses import raw_error_response

        status = exc.status if exc.status >= 500 else 503
        return raw_error_response(status, exc.code, "The read could not be recorded; retry shortly")
