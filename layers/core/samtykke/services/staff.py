"""Staff users of a tenant: creation and invitation, roles and grants, deactivation; plan and MFA policy.

A user's email is personal data: it is stored sealed with the user's own data key (wrapped under the tenant
root key, as a contact's is) and found through a blind index (`TenantKeys.blind_index("staff-email", …)`) within
the tenant, and through a keyed hash under the service directory key across tenants (login without
`tenant_id`). Passwords are scrypt hashes (`domain/passwords.py`). Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from samtykke.adapters.crypto import ContactBox, TenantKeys
from samtykke.adapters.repository import META, tenant_pk
from samtykke.adapters.service_keys import directory_key, keyed_hash
from samtykke.adapters.staff_repository import RESET, StaffRepository, staff_pk
from samtykke.domain.access import Permission, Principal, Role, Scope, may_assign, parse_grants
from samtykke.domain.addresses import normalise_email
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import Conflict, Forbidden, NotFound, RetryableError
from samtykke.domain.mail import OutgoingEmail
from samtykke.domain.passwords import check_policy, hash_password
from samtykke.domain.sessions import new_one_time_token
from samtykke.models.staff import Me, StaffUser, UserCreate, UserCreated, UserUpdate
from samtykke.models.tenant import Plan
from samtykke.observability import logger
from samtykke.services import audit
from samtykke.services.audit import AuditActor
from samtykke.services.catalog import TenantNotFound
from samtykke.services.context import Services
from samtykke.services.ledger import new_id
from samtykke.templates.staff import staff_email

RESET_TOKEN_PREFIX = "prt_"  # noqa: S105
RESET_TTL_SECONDS = 30 * 60
INVITE_TTL_SECONDS = 72 * 3600
MFA_PLANS = frozenset({Plan.PLUS, Plan.ENTERPRISE})


class UserNotFound(NotFound):
    code = "user_not_found"


class PlanRequired(Forbidden):
    code = "plan_required"


class RoleNotAllowed(Forbidden):
    code = "role_not_allowed"


class StaffOnly(Forbidden):
    code = "staff_only"


@dataclass
class StaffStore:
    """The staff repository and keys for one request."""

    svc: Services

    def __post_init__(self) -> None:
        self.repo = StaffRepository(self.svc.repo.table_name)

    def keys(self, tenant_id: str) -> TenantKeys:
        return self.svc.keyring.tenant_keys(tenant_id, self.svc.catalogs.get(tenant_id).root_key_blob)

    def directory_hash(self, kind: str, value: str) -> str:
        return keyed_hash(directory_key(self.repo, self.svc.settings.kms_key_id), kind, value)

    def now(self) -> int:
        return int(self.svc.clock().timestamp())

    def iso_now(self) -> str:
        return self.svc.clock().isoformat()

    def box(self, tenant_id: str, user: dict[str, Any]) -> ContactBox:
        return self.keys(tenant_id).contact_box(user["user_id"], user["wrapped_key"])


def login_email(raw: str) -> str:
    """What a login or reset request's email is looked up as: stripped and lower-cased, never rejected."""
    return raw.strip().lower()


def email_index(keys: TenantKeys, email: str) -> str:
    return keys.blind_index("staff-email", email)


def user_status(user: dict[str, Any]) -> str:
    if not user.get("active", True):
        return "deactivated"
    return "active" if user.get("password_hash") else "invited"


def user_grants(user: dict[str, Any]) -> frozenset[Permission]:
    return parse_grants(user.get("grants") or [])


def _iso(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def user_view(store: StaffStore, tenant_id: str, user: dict[str, Any]) -> StaffUser:
    sealed = user.get("email_sealed")
    email = store.box(tenant_id, user).open("email", sealed).decode() if sealed else None
    return StaffUser(
        user_id=user["user_id"],
        tenant_id=tenant_id,
        email=email,
        role=Role(user["role"]),
        grants=sorted(user_grants(user)),
        status=user_status(user),
        mfa_enabled=bool(user.get("mfa_enabled")),
        created_at=datetime.fromisoformat(user["created_at"]),
        last_login_at=_iso(user.get("last_login_at")),
    )


def tenant_meta(svc: Services, tenant_id: str) -> dict[str, Any]:
    item = svc.repo.get(tenant_pk(tenant_id), META, consistent=True)
    if item is None:
        raise TenantNotFound("No such tenant")
    return item


def mfa_available(meta: dict[str, Any]) -> bool:
    return Plan(meta.get("plan", Plan.BASIC)) in MFA_PLANS


def require_mfa_plan(meta: dict[str, Any]) -> None:
    if not mfa_available(meta):
        raise PlanRequired("Multi-factor login needs the plus plan or above")


def _require_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise StaffOnly("Only a staff session can do this; API keys have no user")


# --- users -----------------------------------------------------------------------------------------------


def create_user(
    svc: Services,
    tenant_id: str,
    new: UserCreate,
    *,
    actor: Principal | None,
    ip: str | None,
    public_base_url: str,
    user_id: str | None = None,
) -> UserCreated:
    """A new staff user. Without a password, an invitation with a one-time set-password link is emailed."""
    grants = parse_grants(list(new.grants))
    if actor is not None and not may_assign(actor, new.role, grants):
        raise RoleNotAllowed("You may not give a role or grant above your own")
    email = normalise_email(new.email)
    store = StaffStore(svc)
    meta = tenant_meta(svc, tenant_id)
    if new.password is not None:
        check_policy(new.password, email=email, tenant_names=(str(meta.get("name", "")), tenant_id))
    keys = store.keys(tenant_id)
    user_id = user_id or new_id("usr")
    box, wrapped = keys.new_contact_box(user_id)
    user: dict[str, Any] = {
        "user_id": user_id,
        "tenant_id": tenant_id,
        "role": new.role.value,
        "grants": sorted(g.value for g in grants),
        "active": True,
        "wrapped_key": wrapped,
        "email_sealed": box.seal("email", email.encode()),
        "email_index": email_index(keys, email),
        "password_hash": hash_password(new.password) if new.password else None,
        "session_epoch": 0,
        "authz_version": 0,
        "mfa_enabled": False,
        "created_at": store.iso_now(),
        "created_by": actor.principal_id if actor else "cli",
    }
    directory_hash = store.directory_hash("staff-email", email)
    invitation = None if new.password is not None else set_password_token(store, tenant_id, user_id, "invite")
    store.repo.create_user(
        tenant_id, user, user["email_index"], directory_hash, [invitation.item] if invitation else None
    )
    if invitation is not None:
        try:
            email_set_password_link(store, meta, email, invitation, public_base_url)
        except Exception as exc:  # nothing half-written: no user whose invitation never left
            store.repo.delete_user(tenant_id, user_id, user["email_index"], directory_hash, invitation.item["sk"])
            logger.warning("The invitation could not be sent", extra={"error": type(exc).__name__})
            raise RetryableError("The invitation email could not be sent; try again", code="mail_unavailable") from exc
    who: Principal | AuditActor = actor or AuditActor(tenant_id, "system", "cli")
    audit.record(svc, who, AuditAction.USER_CREATED, ("user", user_id), ip, {"role": new.role.value})
    if invitation is not None:
        audit.record(svc, who, AuditAction.USER_INVITED, ("user", user_id), ip)
    view = user_view(store, tenant_id, user)
    return UserCreated(**view.model_dump(), invitation_sent=invitation is not None)


@dataclass(frozen=True)
class OneTimeToken:
    token: str
    item: dict[str, Any]
    ttl_seconds: int
    purpose: str


def set_password_token(store: StaffStore, tenant_id: str, user_id: str, purpose: str) -> OneTimeToken:
    """A one-time set-password token for an invitation or a reset; only its hash is stored."""
    token, token_hash = new_one_time_token(RESET_TOKEN_PREFIX, tenant_id)
    ttl = INVITE_TTL_SECONDS if purpose == "invite" else RESET_TTL_SECONDS
    item = {
        "pk": staff_pk(tenant_id),
        "sk": RESET + token_hash,
        "user_id": user_id,
        "purpose": purpose,
        "created_at": store.iso_now(),
        "expires_at": store.now() + ttl,
    }
    return OneTimeToken(token, item, ttl, purpose)


def email_set_password_link(
    store: StaffStore, meta: dict[str, Any], email: str, token: OneTimeToken, public_base_url: str
) -> None:
    link = f"{public_base_url.rstrip('/')}/v1/auth/password-reset/{token.token}"
    tenant_name = meta.get("name", meta["tenant_id"])
    subject, text, html = staff_email(
        token.purpose, meta.get("default_locale", "en"), tenant=tenant_name, link=link, minutes=token.ttl_seconds // 60
    )
    store.svc.mailer.send(
        OutgoingEmail(sender=store.svc.settings.sender_email, to=email, subject=subject, text=text, html=html)
    )


def load_user(store: StaffStore, tenant_id: str, user_id: str) -> dict[str, Any]:
    user = store.repo.get_user(tenant_id, user_id)
    if user is None:
        raise UserNotFound("No such user")
    return user


def list_users(svc: Services, tenant_id: str) -> list[StaffUser]:
    store = StaffStore(svc)
    return [user_view(store, tenant_id, u) for u in store.repo.list_users(tenant_id)]


def get_user(svc: Services, tenant_id: str, user_id: str) -> StaffUser:
    store = StaffStore(svc)
    return user_view(store, tenant_id, load_user(store, tenant_id, user_id))


def _active_owners(store: StaffStore, tenant_id: str) -> int:
    return sum(1 for u in store.repo.list_users(tenant_id) if u["role"] == Role.OWNER and u.get("active", True))


def update_user(svc: Services, actor: Principal, user_id: str, update: UserUpdate, *, ip: str | None) -> StaffUser:
    """Changes a user's role, grants or active flag. Never above the actor's own; never the last owner away."""
    store = StaffStore(svc)
    tenant_id = actor.tenant_id
    user = load_user(store, tenant_id, user_id)
    current_role = Role(user["role"])
    new_role = update.role or current_role
    new_grants = parse_grants(list(update.grants)) if update.grants is not None else user_grants(user)
    active = user.get("active", True) if update.active is None else update.active
    if not may_assign(actor, current_role, frozenset()) or not may_assign(actor, new_role, new_grants):
        raise RoleNotAllowed("You may not change a user above your own role, or give more than you hold")
    if user_id == actor.principal_id and (new_role != current_role or not active):
        raise Conflict("You cannot change your own role or deactivate yourself", code="cannot_change_self")
    if (
        current_role == Role.OWNER
        and user.get("active", True)
        and (new_role != Role.OWNER or not active)
        and _active_owners(store, tenant_id) <= 1
    ):
        raise Conflict("A tenant keeps at least one active owner", code="last_owner")
    changes: dict[str, Any] = {}
    add: dict[str, int] = {}
    events: list[tuple[AuditAction, dict[str, Any]]] = []
    if new_role != current_role:
        changes["role"] = new_role.value
        events.append((AuditAction.USER_ROLE_CHANGED, {"from": current_role.value, "to": new_role.value}))
    if new_grants != user_grants(user):
        changes["grants"] = sorted(g.value for g in new_grants)
        events.append((AuditAction.USER_GRANTS_CHANGED, {"grants": changes["grants"]}))
    if changes:
        add["authz_version"] = 1  # outstanding access tokens carry the old role: the authorizer refuses them
    if active != user.get("active", True):
        changes["active"] = active
        add["session_epoch"] = 1  # deactivation ends every session at once
        events.append((AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED, {}))
    if changes:
        try:
            user = store.repo.update_user(
                tenant_id,
                user_id,
                set_=changes,
                add=add,
                condition="authz_version = :av AND session_epoch = :ep",
                values={":av": user.get("authz_version", 0), ":ep": user.get("session_epoch", 0)},
            )
        except Conflict as exc:
            raise Conflict("The user changed at the same time; try again", code="concurrent_change") from exc
        for action, details in events:
            audit.record(svc, actor, action, ("user", user_id), ip, details)
    return user_view(store, tenant_id, user)


def reset_user_mfa(svc: Services, actor: Principal, user_id: str, *, ip: str | None) -> StaffUser:
    """Removes a user's MFA factor (a lost phone) and ends their sessions; they enrol again at next login."""
    store = StaffStore(svc)
    user = load_user(store, actor.tenant_id, user_id)
    if not may_assign(actor, Role(user["role"]), frozenset()):
        raise RoleNotAllowed("You may not change a user above your own role")
    user = store.repo.update_user(
        actor.tenant_id,
        user_id,
        set_={"mfa_enabled": False},
        add={"session_epoch": 1},
        remove=["mfa_secret_sealed", "mfa_pending_sealed", "mfa_last_tc", "recovery"],
    )
    audit.record(svc, actor, AuditAction.MFA_RESET, ("user", user_id), ip)
    return user_view(store, actor.tenant_id, user)


def me(svc: Services, principal: Principal) -> Me:
    permissions = sorted(p for p in Permission if principal.may(p))
    result = Me(
        tenant_id=principal.tenant_id,
        principal_id=principal.principal_id,
        principal_type=principal.principal_type,
        role=principal.role,
        grants=sorted(principal.grants),
        scope=principal.scope.value,
        permissions=permissions if principal.scope == Scope.FULL else [Permission.SELF],
    )
    if principal.is_staff:
        view = get_user(svc, principal.tenant_id, principal.principal_id)
        result.email, result.mfa_enabled = view.email, view.mfa_enabled
    return result


# --- plan and security settings ----------------------------------------------------------------------------


def security_settings(svc: Services, tenant_id: str) -> dict[str, Any]:
    meta = tenant_meta(svc, tenant_id)
    return {
        "plan": Plan(meta.get("plan", Plan.BASIC)),
        "mfa_required": bool(meta.get("mfa_required")),
        "mfa_available": mfa_available(meta),
    }


def set_plan(
    svc: Services, actor: AuditActor, plan: Plan, *, ip: str | None = None, key_id: str | None = None
) -> dict[str, Any]:
    """The operator's decision (`samtykke tenant plan`, or the operator API with operator key `key_id`): no tenant
    credential reaches this."""
    meta = tenant_meta(svc, actor.tenant_id)
    old = Plan(meta.get("plan", Plan.BASIC))
    if plan not in MFA_PLANS and meta.get("mfa_required"):
        raise Conflict(
            "The tenant requires MFA, which needs plus or above: turn the requirement off first",
            code="mfa_required_by_policy",
        )
    if plan != old:
        StaffRepository(svc.repo.table_name).update(
            tenant_pk(actor.tenant_id), META, set_={"plan": plan.value}, condition="attribute_exists(pk)"
        )
        svc.catalogs.invalidate(actor.tenant_id)
        change = {"from": old, "to": plan} | ({"operator_key_id": key_id} if key_id else {})
        audit.record(svc, actor, AuditAction.OPERATOR_PLAN_SET, ("tenant", actor.tenant_id), ip, change)
    return security_settings(svc, actor.tenant_id)


def set_mfa_required(svc: Services, actor: Principal, required: bool, *, ip: str | None) -> dict[str, Any]:
    meta = tenant_meta(svc, actor.tenant_id)
    if required:
        require_mfa_plan(meta)
    if bool(meta.get("mfa_required")) != required:
        StaffRepository(svc.repo.table_name).update(
            tenant_pk(actor.tenant_id), META, set_={"mfa_required": required}, condition="attribute_exists(pk)"
        )
        svc.catalogs.invalidate(actor.tenant_id)
        audit.record(
            svc, actor, AuditAction.MFA_POLICY_CHANGED, ("tenant", actor.tenant_id), ip, {"mfa_required": required}
        )
    return security_settings(svc, actor.tenant_id)


def seed_demo_staff(svc: Services, tenant_id: str, public_base_url: str) -> None:
    """The local demo tenant's staff: an owner the OpenAPI login example logs in as, and an editor."""
    from samtykke.models.staff import DEMO_EDITOR_USER_ID, DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD

    for user_id, email, role in (
        ("usr_demo_owner", DEMO_OWNER_EMAIL, Role.OWNER),
        (DEMO_EDITOR_USER_ID, "editor@demo.example", Role.EDITOR),
    ):
        new = UserCreate(email=email, role=role, password=DEMO_OWNER_PASSWORD)
        create_user(svc, tenant_id, new, actor=None, ip=None, public_base_url=public_base_url, user_id=user_id)
