"""Admin: staff users, one's own profile and MFA factor, API keys, plan and security settings, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.api.paging import Cursor, Limit, page, paged_doc
from samtykke.api.params import live_input
from samtykke.domain.access import Permission, parse_grants
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import Forbidden, InvalidInput
from samtykke.models.staff import (
    Accepted,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    AuditPage,
    Me,
    MfaActivated,
    MfaCode,
    MfaEnrolment,
    MfaState,
    PasswordChange,
    PlanUpdate,
    SecuritySettings,
    SecuritySettingsUpdate,
    StaffUser,
    UserCreate,
    UserCreated,
    UserUpdate,
)
from samtykke.services import api_keys, audit, mfa, sessions, staff
from samtykke.services.context import services

router = Router()


class OperatorOnly(Forbidden):
    code = "operator_only"


UserId = Annotated[str, Path(pattern=r"^usr_[a-z0-9_]{1,60}$", description="The staff user's id")]
KeyId = Annotated[str, Path(pattern=r"^key_[a-z0-9_]{1,60}$", description="The API key's id")]


def _ip() -> str | None:
    return audit.client_ip(router.current_event)


def _base_url() -> str:
    from samtykke.api.request import http_event, public_base_url

    return public_base_url(http_event(router))


# --- me ----------------------------------------------------------------------------------------------------


@router.get(
    "/v1/admin/me",
    summary="Who the bearer is: tenant, role, grants, permissions",
    tags=["me"],
    **guarded(Permission.SELF, enrolment=True),
)
def get_me() -> Me:
    return staff.me(services(), current_principal(router))


@router.post(
    "/v1/admin/me/mfa",
    summary="Start TOTP enrolment",
    description="Returns the `otpauth://` URI (and an SVG QR code of it) for any authenticator app or OATH token. "
    "The factor is active only after `POST /v1/admin/me/mfa/verify` with a first code. Plus plan and above: "
    "403 `plan_required` otherwise. Staff sessions only (403 `staff_only` for API keys).",
    tags=["me"],
    **guarded(Permission.SELF, enrolment=True),
)
def start_mfa() -> tuple[MfaEnrolment, int]:
    return mfa.start_enrolment(services(), current_principal(router), ip=_ip()), 201


@router.post(
    "/v1/admin/me/mfa/verify",
    summary="Activate the factor with its first code",
    description="Answers the ten one-time recovery codes, shown only now. Ends the current sessions' access "
    "tokens: log in again with a code. 401 `mfa_invalid` for a wrong code; five wrong codes lock for a while.",
    tags=["me"],
    **live_input(guarded(Permission.SELF, enrolment=True), "a staff session and a current TOTP code"),
)
def verify_mfa(body: Annotated[MfaCode, Body()]) -> MfaActivated:
    return mfa.verify_enrolment(services(), current_principal(router), body.code, ip=_ip())


@router.post(
    "/v1/admin/me/mfa/disable",
    summary="Remove one's own factor (with a current code or a recovery code)",
    description="409 `mfa_required_by_policy` while the tenant requires MFA.",
    tags=["me"],
    **live_input(guarded(Permission.SELF), "a staff session and a current TOTP code"),
)
def disable_mfa(body: Annotated[MfaCode, Body()]) -> MfaState:
    return mfa.disable(services(), current_principal(router), body.code, ip=_ip())


@router.post(
    "/v1/admin/me/password",
    summary="Change one's own password",
    description="Every session of the user ends: log in again.",
    tags=["me"],
    **live_input(guarded(Permission.SELF), "a staff session and its current password"),
)
def change_password(body: Annotated[PasswordChange, Body()]) -> Accepted:
    principal = current_principal(router)
    sessions.change_password(services(), principal, body.current_password, body.new_password, ip=_ip())
    return Accepted(status="password_changed")


# --- users -------------------------------------------------------------------------------------------------


@router.get(
    "/v1/admin/users",
    summary="List the tenant's staff users, by id",
    tags=["users"],
    responses=paged_doc("The staff users"),
    **guarded(Permission.USERS_READ),
)
def list_users(limit: Limit = None, cursor: Cursor = None) -> Response[str]:
    rows = staff.list_users(services(), current_principal(router).tenant_id)
    return page(router, rows, lambda user: user.user_id, limit=limit, cursor=cursor)


@router.post(
    "/v1/admin/users",
    summary="Create a staff user, or invite one",
    description="With `password`, the user can log in at once. Without it, an invitation with a one-time "
    "set-password link (72 h) is emailed. Never a role or grant above the caller's own (403 `role_not_allowed`); "
    "409 `user_exists` if the email has an account in this tenant.",
    tags=["users"],
    **guarded(Permission.USERS_WRITE),
)
def create_user(new: Annotated[UserCreate, Body()]) -> tuple[UserCreated, int]:
    principal = current_principal(router)
    created = staff.create_user(
        services(), principal.tenant_id, new, actor=principal, ip=_ip(), public_base_url=_base_url()
    )
    return created, 201


@router.get("/v1/admin/users/<user_id>", summary="Get a staff user", tags=["users"], **guarded(Permission.USERS_READ))
def get_user(user_id: UserId) -> StaffUser:
    return staff.get_user(services(), current_principal(router).tenant_id, user_id)


@router.patch(
    "/v1/admin/users/<user_id>",
    summary="Change a staff user's role or grants, or (de)activate them",
    description="A role or grant change ends the user's current access tokens (their refresh tokens get new "
    "ones with the new role); deactivation ends every session at once. 409 `last_owner`, `cannot_change_self`.",
    tags=["users"],
    **guarded(Permission.USERS_WRITE),
)
def update_user(user_id: UserId, update: Annotated[UserUpdate, Body()]) -> StaffUser:
    return staff.update_user(services(), current_principal(router), user_id, update, ip=_ip())


@router.post(
    "/v1/admin/users/<user_id>/mfa/reset",
    summary="Remove a user's MFA factor (a lost authenticator)",
    description="Ends the user's sessions; they enrol again.",
    tags=["users"],
    **guarded(Permission.USERS_WRITE),
)
def reset_user_mfa(user_id: UserId) -> StaffUser:
    return staff.reset_user_mfa(services(), current_principal(router), user_id, ip=_ip())


# --- API keys ----------------------------------------------------------------------------------------------


@router.get(
    "/v1/admin/api-keys",
    summary="List API keys, oldest first",
    tags=["api keys"],
    responses=paged_doc("The API keys, live and revoked"),
    **guarded(Permission.API_KEYS_MANAGE),
)
def list_keys(limit: Limit = None, cursor: Cursor = None) -> Response[str]:
    rows = [ApiKey.model_validate(k) for k in api_keys.list_api_keys(services(), current_principal(router).tenant_id)]
    return page(router, rows, lambda key: key.key_id, limit=limit, cursor=cursor)


@router.post(
    "/v1/admin/api-keys",
    summary="Create an API key for server-to-server use",
    description="The secret is in this answer only; it is stored as a hash.",
    tags=["api keys"],
    **guarded(Permission.API_KEYS_MANAGE),
)
def create_key(new: Annotated[ApiKeyCreate, Body()]) -> tuple[ApiKeyCreated, int]:
    created = api_keys.create_api_key(
        services(), current_principal(router), new.role, new.label, parse_grants(list(new.grants)), ip=_ip()
    )
    return ApiKeyCreated.model_validate(created), 201


@router.delete(
    "/v1/admin/api-keys/<key_id>",
    summary="Revoke an API key",
    description="Idempotent. Authorizer decisions are cached for 30 s, so a revoked key stops working within that.",
    tags=["api keys"],
    **guarded(Permission.API_KEYS_MANAGE),
)
def revoke_key(key_id: KeyId) -> ApiKey:
    return ApiKey.model_validate(api_keys.revoke_api_key(services(), current_principal(router), key_id, ip=_ip()))


# --- plan and security -------------------------------------------------------------------------------------


@router.put(
    "/v1/admin/settings/plan",
    summary="Refused: the plan is set by the deployment's operator",
    description="Always 403 `operator_only`: no tenant credential sets its own plan. The operator, with the "
    "deployment's AWS credentials, runs `samtykke tenant plan <tenant> <plan>`, or calls "
    "`PUT /v1/operator/tenants/{tenant_id}/plan` with an operator key (audited as `operator.plan_set`).",
    tags=["settings"],
    **live_input(guarded(Permission.SETTINGS_READ), "the deployment's operator: a tenant always gets 403"),
)
def set_plan(update: Annotated[PlanUpdate, Body()]) -> SecuritySettings:
    raise OperatorOnly("The plan is set by the operator of this deployment, not by the tenant")


@router.get(
    "/v1/admin/settings/security",
    summary="The tenant's plan and MFA policy",
    tags=["settings"],
    **guarded(Permission.SETTINGS_READ),
)
def get_security() -> SecuritySettings:
    return SecuritySettings(**staff.security_settings(services(), current_principal(router).tenant_id))


@router.put(
    "/v1/admin/settings/security",
    summary="Require MFA for all staff (plus plan and above)",
    description="With `mfa_required`, a user without a factor who logs in gets an enrolment-only session "
    "(`scope: mfa_enrolment`) that may only enrol one. 403 `plan_required` on basic.",
    tags=["settings"],
    **guarded(Permission.SECURITY_WRITE, audit=AuditAction.MFA_POLICY_CHANGED),
)
def set_security(update: Annotated[SecuritySettingsUpdate, Body()]) -> SecuritySettings:
    result = staff.set_mfa_required(services(), current_principal(router), update.mfa_required, ip=_ip())
    return SecuritySettings(**result)


# --- audit -------------------------------------------------------------------------------------------------


ISO_TIME = r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?)?(Z|\+00:00)?$"


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


@router.get(
    "/v1/admin/audit",
    summary="The tenant's audit log, newest first, one month at a time",
    description="Every admin write (with before/after values), every read of a contact's data (naming the "
    "contact), logins, MFA changes and key use. Each entry: actor, time, IP, route, target, contacts, details, "
    "changes, and its place in the month's hash chain. Filter by action, actor, target, contact and time "
    "(`since`/`until`, across months); page with `cursor`; or one `month` at a time.",
    tags=["audit"],
    **guarded(Permission.AUDIT_READ),
)
def get_audit(
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="yyyy-mm; default now")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=100)] = None,
    target_id: Annotated[str | None, Query(max_length=100)] = None,
    contact_id: Annotated[str | None, Query(max_length=100, description="Entries naming this contact")] = None,
    since: Annotated[str | None, Query(pattern=ISO_TIME, description="From this time (ISO 8601, UTC)")] = None,
    until: Annotated[str | None, Query(pattern=ISO_TIME, description="Up to this time (ISO 8601, UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> AuditPage:
    svc = services()
    chosen = month or (until or "")[:7] or svc.clock().strftime("%Y-%m")
    try:
        datetime.strptime(chosen, "%Y-%m")
    except ValueError as exc:
        raise InvalidInput("month is yyyy-mm", code="invalid_month") from exc
    entries, next_cursor = audit.query(
        svc,
        current_principal(router).tenant_id,
        None if since or until else chosen,
        limit=limit,
        cursor=cursor,
        action=action,
        actor_id=actor_id,
        target_id=target_id,
        contact_id=contact_id,
        since=since,
        until=until,
    )
    return AuditPage.model_validate(
        {"month": chosen, "entries": entries, "next_cursor": next_cursor, "previous_month": _previous_month(chosen)}
    )
