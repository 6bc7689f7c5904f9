"""Staff login, session tokens, refresh-token rotation, logout, password reset and change, and lockout.

Login answers the same for an unknown email and a wrong password (401 `invalid_credentials`), and takes about
as long (a dummy scrypt). Failures count per email (known or not) and per client IP (`domain/lockout.py`);
an account locked answers 401 `locked`, an IP over its limit 429 `rate_limited`, both with `Retry-After`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from samtykke.adapters.errors import ConditionFailed
from samtykke.adapters.staff_repository import FAMILY, RESET, counter_pk, staff_pk
from samtykke.domain import lockout
from samtykke.domain.access import Principal, Role, Scope
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import RetryableError, SamtykkeError, Unauthorized
from samtykke.domain.passwords import check_policy, hash_password, needs_rehash, verify_password
from samtykke.domain.sessions import (
    ACCESS_TTL_SECONDS,
    ENROLMENT_TTL_SECONDS,
    SESSION_MAX_SECONDS,
    SessionClaims,
    check_session_policy,
    new_refresh_token,
    parse_one_time_token,
    parse_refresh_token,
    sign_access_token,
)
from samtykke.domain.tokens import InvalidToken
from samtykke.models.staff import LoginRequest, SessionTokens
from samtykke.services import audit, mfa
from samtykke.services.audit import AuditActor
from samtykke.services.catalog import TenantNotFound
from samtykke.services.context import Services
from samtykke.services.ledger import new_id
from samtykke.services.session_auth import session_key
from samtykke.services.staff import (
    RESET_TOKEN_PREFIX,
    StaffStore,
    email_index,
    email_set_password_link,
    login_email,
    mfa_available,
    set_password_token,
    tenant_meta,
    user_grants,
)

MAX_TENANTS_TRIED = 5


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class MfaRequired(Unauthorized):
    code = "mfa_required"


class Locked(RetryableError):
    """Too many failures for this account: 401 with `Retry-After` (the resolver adds it to every RetryableError)."""

    code = "locked"
    status = 401


class RateLimited(RetryableError):
    code = "rate_limited"
    status = 429


# --- counters ----------------------------------------------------------------------------------------------


@dataclass
class Counters:
    """The attempt claims of one login: per email (known or not) and per client IP.

    `claim` takes one attempt from each limit before the password is checked, so parallel tries can never get
    more guesses evaluated than the limit; the outcome then keeps the claim (`failed`) or gives it back.
    """

    store: StaffStore
    account_pk: str
    ip_pk: str | None
    account_failures: int = 0

    @classmethod
    def claim(cls, store: StaffStore, email: str, ip: str | None) -> Counters:
        account_pk = counter_pk("ACCT", store.directory_hash("login-email", email))
        ip_pk = counter_pk("IP", store.directory_hash("ip", ip)) if ip else None
        if ip_pk:
            _claim_ip_attempt(store, ip_pk)
        try:
            failures = claim_account_attempt(store, account_pk)
        except Locked:
            if ip_pk:
                _give_back(store, ip_pk, _ip_window_sk(store.now()))
            raise
        return cls(store, account_pk, ip_pk, failures)

    def failed(self) -> int:
        """The attempt failed: its claims stay counted. Returns how long the account is now locked (0 if not)."""
        return account_attempt_failed(self.store, self.account_pk, self.account_failures)

    def released(self) -> None:
        """The attempt was neither a success nor a failure (a second factor or a tenant is missing)."""
        release_account_attempt(self.store, self.account_pk)
        self._release_ip()

    def succeeded(self) -> None:
        self.store.repo.delete(self.account_pk, "LOCK")
        self._release_ip()

    def _release_ip(self) -> None:
        if self.ip_pk:
            _give_back(self.store, self.ip_pk, _ip_window_sk(self.store.now()))


def _ip_window_sk(now: int) -> str:
    return f"W#{lockout.window_start(now, lockout.IP_WINDOW_SECONDS)}"


def _claim_ip_attempt(store: StaffStore, pk: str) -> None:
    now = store.now()
    try:
        store.repo.update(
            pk,
            _ip_window_sk(now),
            add={"failures": 1},
            set_={"expires_at": now + 2 * lockout.IP_WINDOW_SECONDS},
            condition="attribute_not_exists(failures) OR failures < :max",
            values={":max": lockout.IP_MAX_FAILURES},
        )
    except ConditionFailed as exc:
        verdict = lockout.ip_verdict(lockout.IP_MAX_FAILURES, now)
        raise RateLimited("Too many failed attempts from this address", retry_after=verdict.retry_after) from exc


def claim_account_attempt(store: StaffStore, pk: str) -> int:
    """One conditional update: counts an attempt unless the account is locked or its free attempts are all taken.

    Free: below the threshold, or the one attempt after a lock has run out (`lock_failures` is the count the lock
    was set at). Returns the count including this attempt; `Locked` when refused.
    """
    now = store.now()
    try:
        item = store.repo.update(
            pk,
            "LOCK",
            add={"failures": 1},
            set_={"expires_at": now + lockout.ACCOUNT_COUNTER_TTL_SECONDS},
            condition="attribute_not_exists(failures) OR failures < :threshold "
            "OR (locked_until <= :now AND failures = lock_failures)",
            values={":threshold": lockout.ACCOUNT_THRESHOLD, ":now": now},
        )
    except ConditionFailed as exc:
        lock = store.repo.get(pk, "LOCK") or {}
        # No lock set yet: the last free attempts are being evaluated right now.
        retry_after = max(1, int(lock.get("locked_until", now + 1)) - now)
        raise Locked("Too many failed attempts: locked for a while", retry_after=retry_after) from exc
    return int(item["failures"])


def account_attempt_failed(store: StaffStore, pk: str, failures: int) -> int:
    """Locks the account if the claimed attempt number `failures` reaches the threshold; the lock's seconds."""
    seconds = lockout.lock_seconds(failures)
    if seconds:
        store.repo.update(pk, "LOCK", set_={"locked_until": store.now() + seconds, "lock_failures": failures})
    return seconds


def release_account_attempt(store: StaffStore, pk: str) -> None:
    _give_back(store, pk, "LOCK")


def _give_back(store: StaffStore, pk: str, sk: str) -> None:
    # Only on a counter that still exists: a success meanwhile may have reset it.
    with contextlib.suppress(ConditionFailed):
        store.repo.update(pk, sk, add={"failures": -1}, condition="failures > :zero", values={":zero": 0})


# --- tokens ------------------------------------------------------------------------------------------------


def _session_key(store: StaffStore, tenant_id: str) -> bytes:
    return session_key(store.svc, tenant_id)


def _claims(
    store: StaffStore, user: dict[str, Any], scope: Scope, family_id: str | None, amr: tuple[str, ...]
) -> SessionClaims:
    now = store.now()
    ttl = ACCESS_TTL_SECONDS if scope == Scope.FULL else ENROLMENT_TTL_SECONDS
    return SessionClaims(
        tenant_id=user["tenant_id"],
        user_id=user["user_id"],
        role=Role(user["role"]),
        grants=user_grants(user),
        scope=scope,
        session_epoch=int(user.get("session_epoch", 0)),
        authz_version=int(user.get("authz_version", 0)),
        family_id=family_id,
        issued_at=now,
        expires_at=now + ttl,
        amr=amr,
    )


def _issue(store: StaffStore, user: dict[str, Any], amr: tuple[str, ...], scope: Scope) -> SessionTokens:
    tenant_id = user["tenant_id"]
    refresh = None
    family_id = None
    if scope == Scope.FULL:
        family_id = new_id("fam")
        token = new_refresh_token(tenant_id, family_id)
        now = store.now()
        store.repo.put_new(
            {
                "pk": staff_pk(tenant_id),
                "sk": FAMILY + family_id,
                "user_id": user["user_id"],
                "current_hash": token.secret_hash,
                "used_hashes": [],
                "session_epoch": int(user.get("session_epoch", 0)),
                "amr": list(amr),
                "revoked": False,
                "generation": 0,
                "created_at": store.iso_now(),
                "expires_at": now + SESSION_MAX_SECONDS,
            }
        )
        refresh = str(token)
    claims = _claims(store, user, scope, family_id, amr)
    return SessionTokens(
        token=sign_access_token(_session_key(store, tenant_id), claims),
        refresh_token=refresh,
        expires_in=claims.expires_at - claims.issued_at,
        tenant_id=tenant_id,
        user_id=user["user_id"],
        role=Role(user["role"]),
        scope=scope.value,
        mfa_enrolment_required=scope == Scope.MFA_ENROLMENT,
    )


# --- login -------------------------------------------------------------------------------------------------


def _candidates(store: StaffStore, email: str, tenant_id: str | None) -> list[dict[str, Any]]:
    """The staff users this email could be: in the given tenant, or in every tenant the directory lists."""
    tenants = [tenant_id] if tenant_id else store.repo.directory_tenants(store.directory_hash("staff-email", email))
    users = []
    for tenant in tenants[:MAX_TENANTS_TRIED]:
        try:
            keys = store.keys(tenant)
        except TenantNotFound:
            continue
        user_id = store.repo.user_id_by_email(tenant, email_index(keys, email))
        user = store.repo.get_user(tenant, user_id) if user_id else None
        if user is not None:
            users.append(user)
    return users


def login(svc: Services, request: LoginRequest, *, ip: str | None) -> SessionTokens:
    store = StaffStore(svc)
    email = login_email(request.email)
    counters = Counters.claim(store, email, ip)
    candidates = _candidates(store, email, request.tenant_id)
    if not candidates:
        verify_password(request.password, None)  # the same time as a wrong password
        counters.failed()
        raise InvalidCredentials("The email or password is wrong")
    matches = [u for u in candidates if verify_password(request.password, u.get("password_hash"))]
    matches = [u for u in matches if u.get("active", True)]
    if not matches:
        locked_for = counters.failed()
        for user in candidates:
            actor = AuditActor(user["tenant_id"], "staff", user["user_id"], user["role"])
            audit.record(svc, actor, AuditAction.LOGIN_FAILED, ("user", user["user_id"]), ip, {"reason": "password"})
            if locked_for:
                audit.record(svc, actor, AuditAction.LOCKED, ("user", user["user_id"]), ip, {"seconds": locked_for})
        raise InvalidCredentials("The email or password is wrong")
    if len(matches) > 1:
        counters.released()
        raise Unauthorized("The email has accounts in several tenants: send `tenant_id`", code="tenant_required")
    user = matches[0]
    tenant_id = user["tenant_id"]
    actor = AuditActor(tenant_id, "staff", user["user_id"], user["role"])
    amr: tuple[str, ...] = ("pwd",)
    scope = Scope.FULL
    if user.get("mfa_enabled"):
        if not request.totp and not request.recovery_code:
            counters.released()
            raise MfaRequired("Send the code of your authenticator as `totp`")
        try:
            amr += (mfa.check_second_factor(store, user, totp=request.totp, recovery_code=request.recovery_code),)
        except mfa.MfaInvalid:
            locked_for = counters.failed()
            audit.record(svc, actor, AuditAction.MFA_FAILED, ("user", user["user_id"]), ip, {"at": "login"})
            if locked_for:
                audit.record(svc, actor, AuditAction.LOCKED, ("user", user["user_id"]), ip, {"seconds": locked_for})
            raise
        action = AuditAction.MFA_USED if amr[-1] == "otp" else AuditAction.MFA_RECOVERY_CODE_USED
        audit.record(svc, actor, action, ("user", user["user_id"]), ip, {"at": "login"})
    else:
        meta = tenant_meta(svc, tenant_id)
        if meta.get("mfa_required") and mfa_available(meta):
            scope = Scope.MFA_ENROLMENT
    counters.succeeded()
    changes: dict[str, Any] = {"last_login_at": store.iso_now()}
    if needs_rehash(user["password_hash"]):
        changes["password_hash"] = hash_password(request.password)
    store.repo.update_user(tenant_id, user["user_id"], set_=changes)
    tokens = _issue(store, user, amr, scope)
    audit.record(svc, actor, AuditAction.LOGIN, ("user", user["user_id"]), ip, {"amr": list(amr), "scope": scope.value})
    return tokens


# --- refresh and logout ------------------------------------------------------------------------------------


def refresh(svc: Services, raw_token: str, *, ip: str | None) -> SessionTokens:
    """Swaps a refresh token for new tokens. A token that was already swapped revokes its whole family."""
    store = StaffStore(svc)
    token = parse_refresh_token(raw_token)
    invalid = Unauthorized("The refresh token is not valid", code="invalid_refresh_token")
    pk, sk = staff_pk(token.tenant_id), FAMILY + token.family_id
    family = store.repo.get(pk, sk)
    now = store.now()
    if family is None or family.get("revoked") or int(family.get("expires_at", 0)) <= now:
        raise invalid
    presented = token.secret_hash
    if presented != family["current_hash"]:
        if presented in (family.get("used_hashes") or []):
            _revoke_after_reuse(svc, store, token.tenant_id, family, ip)
            raise Unauthorized(
                "The refresh token was used before: every session of the user has ended", code="refresh_token_reused"
            )
        raise invalid
    user = store.repo.get_user(token.tenant_id, family["user_id"])
    if user is None or not user.get("active", True) or int(user.get("session_epoch", 0)) != family["session_epoch"]:
        raise invalid
    new_token = new_refresh_token(token.tenant_id, token.family_id)
    try:
        _rotate(store, pk, sk, presented, new_token.secret_hash)
    except ConditionFailed:  # another refresh with the same token won the race: that is reuse
        _revoke_after_reuse(svc, store, token.tenant_id, family, ip)
        raise Unauthorized("The refresh token was used before", code="refresh_token_reused") from None
    amr = tuple(family.get("amr") or ("pwd",))
    check_session_policy(amr, full_scope=True, mfa_required=svc.catalogs.get(token.tenant_id).tenant.mfa_required)
    claims = _claims(store, user, Scope.FULL, token.family_id, amr)
    return SessionTokens(
        token=sign_access_token(_session_key(store, token.tenant_id), claims),
        refresh_token=str(new_token),
        expires_in=claims.expires_at - claims.issued_at,
        tenant_id=token.tenant_id,
        user_id=user["user_id"],
        role=Role(user["role"]),
        scope=Scope.FULL.value,
    )


def _rotate(store: StaffStore, pk: str, sk: str, old_hash: str, new_hash: str) -> None:
    """Replaces the family's current hash, remembering the old one, unless someone else replaced it first."""
    store.repo.raw_update(
        pk,
        sk,
        "SET #used = list_append(#used, :used), #cur = :new, #at = :at ADD #gen :one",
        "#cur = :old AND revoked = :false",
        {"#used": "used_hashes", "#cur": "current_hash", "#gen": "generation", "#at": "refreshed_at"},
        {":old": old_hash, ":false": False, ":used": [old_hash], ":new": new_hash, ":one": 1, ":at": store.iso_now()},
    )


def _revoke_after_reuse(
    svc: Services, store: StaffStore, tenant_id: str, family: dict[str, Any], ip: str | None
) -> None:
    """A refresh token came back after it was replaced: someone has a copy. End the family and every session."""
    store.repo.update(staff_pk(tenant_id), family["sk"], set_={"revoked": True, "revoked_reason": "reuse"})
    with contextlib.suppress(ConditionFailed):  # the user is gone: nothing more to end
        store.repo.update_user(tenant_id, family["user_id"], add={"session_epoch": 1})
    actor = AuditActor(tenant_id, "staff", family["user_id"])
    audit.record(svc, actor, AuditAction.REFRESH_REUSED, ("user", family["user_id"]), ip)


def logout(svc: Services, raw_token: str, *, ip: str | None) -> None:
    """Revokes the login (refresh family) the token belongs to. Idempotent; an unknown token is still 401."""
    store = StaffStore(svc)
    token = parse_refresh_token(raw_token)
    family = store.repo.get(staff_pk(token.tenant_id), FAMILY + token.family_id)
    if family is None or token.secret_hash not in {family["current_hash"], *(family.get("used_hashes") or [])}:
        raise Unauthorized("The refresh token is not valid", code="invalid_refresh_token")
    store.repo.update(staff_pk(token.tenant_id), family["sk"], set_={"revoked": True, "revoked_reason": "logout"})
    actor = AuditActor(token.tenant_id, "staff", family["user_id"])
    audit.record(svc, actor, AuditAction.LOGOUT, ("user", family["user_id"]), ip)


# --- password reset and change -----------------------------------------------------------------------------


def request_password_reset(
    svc: Services, raw_email: str, tenant_id: str | None, *, ip: str | None, public_base_url: str
) -> None:
    """Emails a one-time link to each active account of the email. Answers the same whether or not there is one."""
    store = StaffStore(svc)
    email = login_email(raw_email)
    now = store.now()
    window = lockout.window_start(now, lockout.RESET_WINDOW_SECONDS)
    counter = store.repo.update(
        counter_pk("RESET", store.directory_hash("login-email", email)),
        f"W#{window}",
        add={"requests": 1},
        set_={"expires_at": window + 2 * lockout.RESET_WINDOW_SECONDS},
    )
    if int(counter.get("requests", 0)) > lockout.RESET_MAX_PER_WINDOW:
        return
    for user in _candidates(store, email, tenant_id):
        if not user.get("active", True):
            continue
        meta = tenant_meta(svc, user["tenant_id"])
        token = set_password_token(store, user["tenant_id"], user["user_id"], "reset")
        store.repo.put_new(token.item)
        try:
            email_set_password_link(store, meta, email, token, public_base_url)
        except Exception as exc:  # the answer must not tell; the link just never arrives
            store.repo.delete(token.item["pk"], token.item["sk"])
            from samtykke.observability import logger

            logger.warning("A password-reset email could not be sent", extra={"error": type(exc).__name__})
            continue
        actor = AuditActor(user["tenant_id"], "staff", user["user_id"], user["role"])
        audit.record(svc, actor, AuditAction.PASSWORD_RESET_REQUESTED, ("user", user["user_id"]), ip)


def reset_token_valid(svc: Services, raw_token: str) -> bool:
    """Whether the link still works (the page shows the form); reading it consumes nothing."""
    parsed = parse_one_time_token(RESET_TOKEN_PREFIX, raw_token)
    if parsed is None:
        return False
    item = StaffStore(svc).repo.get(staff_pk(parsed[0]), RESET + parsed[1])
    return item is not None and int(item.get("expires_at", 0)) > int(svc.clock().timestamp())


def _check_new_password(svc: Services, store: StaffStore, tenant_id: str, user_id: str, password: str) -> None:
    """The policy, with the user's email and the tenant's name (neither may be in the password)."""
    from samtykke.services.staff import tenant_meta, user_view

    user = store.repo.get_user(tenant_id, user_id)
    email = user_view(store, tenant_id, user).email if user else None
    check_policy(password, email=email, tenant_names=(str(tenant_meta(svc, tenant_id).get("name", "")), tenant_id))


def reset_password(svc: Services, raw_token: str, new_password: str, *, ip: str | None) -> None:
    """Sets the password through a one-time link: the token is consumed and every session ended, atomically."""
    invalid = InvalidToken("The link is invalid, has expired or was used already")
    parsed = parse_one_time_token(RESET_TOKEN_PREFIX, raw_token)
    if parsed is None:
        raise invalid
    tenant_id, token_hash = parsed
    store = StaffStore(svc)
    pk = staff_pk(tenant_id)
    item = store.repo.get(pk, RESET + token_hash)
    now = store.now()
    if item is None or int(item.get("expires_at", 0)) <= now:
        raise invalid
    user_id = item["user_id"]
    _check_new_password(svc, store, tenant_id, user_id, new_password)
    try:
        store.repo.transact(
            [
                store.repo.delete_action(
                    pk, RESET + token_hash, "attribute_exists(pk) AND expires_at > :now", {":now": now}
                ),
                store.repo.update_action(
                    pk,
                    f"USER#{user_id}",
                    set_={"password_hash": hash_password(new_password), "password_changed_at": store.iso_now()},
                    add={"session_epoch": 1},
                    condition="attribute_exists(pk) AND active = :true",
                    values={":true": True},
                ),
            ]
        )
    except SamtykkeError as exc:
        if exc.status >= 500:
            raise
        raise invalid from exc
    actor = AuditActor(tenant_id, "staff", user_id)
    audit.record(svc, actor, AuditAction.PASSWORD_RESET, ("user", user_id), ip, {"via": item.get("purpose")})


def change_password(svc: Services, principal: Principal, current: str, new: str, *, ip: str | None) -> None:
    """The user's own password; every session ends (log in again)."""
    from samtykke.services.staff import StaffOnly, load_user

    if not principal.is_staff:
        raise StaffOnly("Only a staff session has a password")
    store = StaffStore(svc)
    user = load_user(store, principal.tenant_id, principal.principal_id)
    counters_pk = counter_pk("SELF", store.directory_hash("user", f"{principal.tenant_id}|{principal.principal_id}"))
    failures = claim_account_attempt(store, counters_pk)
    if not verify_password(current, user.get("password_hash")):
        account_attempt_failed(store, counters_pk, failures)
        raise InvalidCredentials("The current password is wrong")
    store.repo.delete(counters_pk, "LOCK")
    _check_new_password(svc, store, principal.tenant_id, principal.principal_id, new)
    store.repo.update_user(
        principal.tenant_id,
        principal.principal_id,
        set_={"password_hash": hash_password(new), "password_changed_at": store.iso_now()},
        add={"session_epoch": 1},
    )
    audit.record(svc, principal, AuditAction.PASSWORD_CHANGED, ("user", principal.principal_id), ip)
