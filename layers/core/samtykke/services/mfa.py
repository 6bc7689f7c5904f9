"""TOTP multi-factor login (RFC 6238): enrolment, activation, use at login, recovery codes, removal.

- Enrolment (`POST /v1/admin/me/mfa`) makes a secret, seals it with the user's key and keeps it PENDING; the
  answer holds the `otpauth://` URI (and the same as an SVG QR code). The factor is active only once a first
  code proves the authenticator has it (`POST /v1/admin/me/mfa/verify`), which also returns ten one-time
  recovery codes, stored only as keyed hashes. The secret is never returned again.
- A code is accepted within +-1 step (30 s), and only for a step later than the last one accepted: the user
  item's `mfa_last_tc` moves forward by a conditional write, so a code is never accepted twice, even by two
  requests racing.
- Plus plan and above (`plan_required` otherwise). Failed codes count towards the login lockout; at the
  step-up endpoints they count per user and lock after five.
"""

from __future__ import annotations

from typing import Any

from samtykke.adapters.errors import ConditionFailed
from samtykke.adapters.staff_repository import counter_pk
from samtykke.domain import totp as otp
from samtykke.domain.access import Principal
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import Conflict, Unauthorized
from samtykke.models.staff import MfaActivated, MfaEnrolment, MfaState
from samtykke.services import audit
from samtykke.services.context import Services
from samtykke.services.staff import StaffOnly, StaffStore, load_user, require_mfa_plan, tenant_meta

ISSUER = "samtykke"


class MfaInvalid(Unauthorized):
    code = "mfa_invalid"


def _recovery_key(store: StaffStore, tenant_id: str) -> bytes:
    return store.keys(tenant_id).signing_key("staff-recovery-codes")


def _accept_step(store: StaffStore, user: dict[str, Any], step: int) -> None:
    """Moves `mfa_last_tc` forward to `step`, or fails if a code of this step (or a later one) was accepted."""
    try:
        store.repo.update_user(
            user["tenant_id"],
            user["user_id"],
            set_={"mfa_last_tc": step},
            condition="attribute_not_exists(mfa_last_tc) OR mfa_last_tc < :tc",
            values={":tc": step},
        )
    except ConditionFailed as exc:
        raise MfaInvalid("That code was used already: wait for the next one") from exc


def check_second_factor(
    store: StaffStore, user: dict[str, Any], *, totp: str | None = None, recovery_code: str | None = None
) -> str:
    """Checks a TOTP code (or a recovery code) of a user with an active factor: `otp` or `recovery`."""
    tenant_id = user["tenant_id"]
    if totp:
        secret = store.box(tenant_id, user).open("mfa_secret", user["mfa_secret_sealed"]).decode()
        step = _match(secret, totp, store, after=user.get("mfa_last_tc"))
        _accept_step(store, user, step)
        return "otp"
    if recovery_code:
        digest = otp.recovery_code_hash(_recovery_key(store, tenant_id), user["user_id"], recovery_code)
        try:
            store.repo.update_user(
                tenant_id,
                user["user_id"],
                remove=[f"recovery.{digest}"],
                condition="attribute_exists(#r0.#m0)",
            )
        except ConditionFailed as exc:
            raise MfaInvalid("That recovery code is not valid or was used already") from exc
        return "recovery"
    raise MfaInvalid("Send a code")


def _match(secret: str, code: str, store: StaffStore, *, after: int | None) -> int:
    step = otp.match_timecode(secret, code, store.svc.clock().timestamp(), after=after)
    if step is None:
        raise MfaInvalid("The code is not valid (or was used already)")
    return step


def _staff_user(store: StaffStore, principal: Principal) -> dict[str, Any]:
    if not principal.is_staff:
        raise StaffOnly("Only a staff session can enrol an MFA factor; API keys have no user")
    return load_user(store, principal.tenant_id, principal.principal_id)


def _step_up_pk(store: StaffStore, principal: Principal) -> str:
    return counter_pk("MFA", store.directory_hash("user", f"{principal.tenant_id}|{principal.principal_id}"))


def start_enrolment(svc: Services, principal: Principal, *, ip: str | None) -> MfaEnrolment:
    from samtykke.services.staff import user_view

    store = StaffStore(svc)
    meta = tenant_meta(svc, principal.tenant_id)
    require_mfa_plan(meta)
    user = _staff_user(store, principal)
    if user.get("mfa_enabled"):
        raise Conflict("The factor is active already: remove it first to enrol another", code="mfa_already_enabled")
    secret = otp.new_secret()
    sealed = store.box(principal.tenant_id, user).seal("mfa_pending", secret.encode())
    store.repo.update_user(principal.tenant_id, principal.principal_id, set_={"mfa_pending_sealed": sealed})
    account = user_view(store, principal.tenant_id, user).email or principal.principal_id
    issuer = f"{ISSUER} ({meta.get('name', principal.tenant_id)})"
    uri = otp.otpauth_uri(secret, account=account, issuer=issuer)
    audit.record(svc, principal, AuditAction.MFA_ENROLMENT_STARTED, ("user", principal.principal_id), ip)
    return MfaEnrolment(otpauth_uri=uri, secret=secret, qr_svg=qr_svg(uri), issuer=issuer, account=account)


def qr_svg(uri: str) -> str:
    import segno  # only enrolment pays for it

    svg: str = segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff")
    return svg


def verify_enrolment(svc: Services, principal: Principal, code: str, *, ip: str | None) -> MfaActivated:
    """Activates the pending factor with its first code; returns the recovery codes (shown only now)."""
    from samtykke.services.sessions import account_attempt_failed, claim_account_attempt

    store = StaffStore(svc)
    require_mfa_plan(tenant_meta(svc, principal.tenant_id))
    user = _staff_user(store, principal)
    pending = user.get("mfa_pending_sealed")
    if user.get("mfa_enabled") or not pending:
        raise Conflict("There is no enrolment to verify: start one first", code="no_pending_enrolment")
    limiter = _step_up_pk(store, principal)
    failures = claim_account_attempt(store, limiter)
    secret = store.box(principal.tenant_id, user).open("mfa_pending", pending).decode()
    step = otp.match_timecode(secret, code, svc.clock().timestamp(), after=user.get("mfa_last_tc"))
    if step is None:
        account_attempt_failed(store, limiter, failures)
        audit.record(svc, principal, AuditAction.MFA_FAILED, ("user", principal.principal_id), ip, {"at": "enrol"})
        raise MfaInvalid("The code is not valid: check the authenticator's clock and try the next code")
    codes = otp.new_recovery_codes()
    key = _recovery_key(store, principal.tenant_id)
    now = store.iso_now()
    try:
        store.repo.update_user(
            principal.tenant_id,
            principal.principal_id,
            set_={
                "mfa_enabled": True,
                "mfa_secret_sealed": store.box(principal.tenant_id, user).seal("mfa_secret", secret.encode()),
                "mfa_last_tc": step,
                "mfa_enrolled_at": now,
                "recovery": {otp.recovery_code_hash(key, principal.principal_id, c): now for c in codes},
            },
            add={"authz_version": 1},  # the enrolment-only token (if that is what this is) ends here
            remove=["mfa_pending_sealed"],
            condition="mfa_pending_sealed = :pending AND mfa_enabled = :false",
            values={":pending": pending, ":false": False},
        )
    except ConditionFailed as exc:
        raise Conflict("The enrolment changed meanwhile: start again", code="no_pending_enrolment") from exc
    store.repo.delete(limiter, "LOCK")
    audit.record(svc, principal, AuditAction.MFA_ENROLLED, ("user", principal.principal_id), ip)
    return MfaActivated(mfa_enabled=True, recovery_codes=codes)


def disable(svc: Services, principal: Principal, code: str, *, ip: str | None) -> MfaState:
    """Removes one's own factor, proven with a current code; refused while the tenant requires MFA."""
    from samtykke.services.sessions import account_attempt_failed, claim_account_attempt

    store = StaffStore(svc)
    user = _staff_user(store, principal)
    if not user.get("mfa_enabled"):
        return MfaState(mfa_enabled=False)
    if tenant_meta(svc, principal.tenant_id).get("mfa_required"):
        raise Conflict("The tenant requires MFA for all staff", code="mfa_required_by_policy")
    limiter = _step_up_pk(store, principal)
    failures = claim_account_attempt(store, limiter)
    try:
        if otp.looks_like_totp(code):
            check_second_factor(store, user, totp=code)
        else:
            check_second_factor(store, user, recovery_code=code)
    except MfaInvalid:
        account_attempt_failed(store, limiter, failures)
        audit.record(svc, principal, AuditAction.MFA_FAILED, ("user", principal.principal_id), ip, {"at": "disable"})
        raise
    store.repo.delete(limiter, "LOCK")
    store.repo.update_user(
        principal.tenant_id,
        principal.principal_id,
        set_={"mfa_enabled": False},
        remove=["mfa_secret_sealed", "mfa_pending_sealed", "recovery"],
    )
    audit.record(svc, principal, AuditAction.MFA_DISABLED, ("user", principal.principal_id), ip)
    return MfaState(mfa_enabled=False)
