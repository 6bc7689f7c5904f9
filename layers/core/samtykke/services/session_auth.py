"""Verifying a staff session token: what the Lambda authorizer runs for `Authorization: Bearer sts_…`.

Kept apart from `services/sessions.py` (login, scrypt, TOTP, email) so that the authorizer's cold start imports
only what verification needs: the token format, the tenant's key, and one GetItem of the user.
"""

from __future__ import annotations

from samtykke.adapters.staff_repository import USER, staff_pk
from samtykke.domain.access import Principal, Scope
from samtykke.domain.sessions import InvalidSession, check_session_policy, peek_access_token, verify_access_token
from samtykke.services.catalog import TenantNotFound
from samtykke.services.context import Services

SESSION_KEY_USE = "staff-session"


def session_key(svc: Services, tenant_id: str) -> bytes:
    """The tenant's session-signing key: HKDF from its KMS-protected root key (`TenantKeys.signing_key`)."""
    keys = svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)
    return keys.signing_key(SESSION_KEY_USE)


def authenticate_session(svc: Services, token: str) -> Principal:
    """The principal of a valid, current session token; `InvalidSession` (401) otherwise."""
    claims = peek_access_token(token)
    try:
        key = session_key(svc, claims.tenant_id)
    except TenantNotFound as exc:
        raise InvalidSession("The session token is not valid") from exc
    claims = verify_access_token(key, token, now=int(svc.clock().timestamp()))
    mfa_required = svc.catalogs.get(claims.tenant_id).tenant.mfa_required  # the policy as it is now
    check_session_policy(claims.amr, full_scope=claims.scope is Scope.FULL, mfa_required=mfa_required)
    user = svc.repo.get(staff_pk(claims.tenant_id), USER + claims.user_id)
    if (
        user is None
        or not user.get("active", True)
        or int(user.get("session_epoch", 0)) != claims.session_epoch
        or int(user.get("authz_version", 0)) != claims.authz_version
    ):
        raise InvalidSession("The session has ended")
    return Principal(
        tenant_id=claims.tenant_id,
        principal_id=claims.user_id,
        principal_type="staff",
        role=claims.role,
        grants=claims.grants,
        scope=claims.scope,
    )
