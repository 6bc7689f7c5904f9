"""The audit log's vocabulary, and the rule that keeps sensitive values out of it. Pure.

`chain.py` is the log's hash chain and its verifier; `changes.py` the before/after values of an admin write.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from samtykke.domain.masking import mask_text


class AuditAction(StrEnum):
    """Stable action names. Other capabilities may record their own `area.verb` strings too."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOCKED = "auth.locked"
    LOGOUT = "auth.logout"
    REFRESH_REUSED = "auth.refresh_reused"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"  # noqa: S105
    PASSWORD_RESET = "auth.password_reset"  # noqa: S105
    PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105
    MFA_ENROLMENT_STARTED = "mfa.enrolment_started"
    MFA_ENROLLED = "mfa.enrolled"
    MFA_USED = "mfa.used"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
    MFA_FAILED = "mfa.failed"
    MFA_DISABLED = "mfa.disabled"
    MFA_RESET = "mfa.reset"
    USER_CREATED = "user.created"
    USER_INVITED = "user.invited"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_GRANTS_CHANGED = "user.grants_changed"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    PLAN_CHANGED = "settings.plan_changed"
    MFA_POLICY_CHANGED = "settings.mfa_policy_changed"
    SENSITIVE_READ = "contact.sensitive_read"
    CONTACT_EXPORTED = "contact.exported"
    CONTACT_ERASED = "contact.erased"
    CONTACTS_IMPORTED = "contacts.imported"
    CAMPAIGN_SENT = "campaign.sent"
    CONSENT_CHANGED = "consent.changed_by_staff"
    CONTACT_FIELDS_CHANGED = "contact.fields_changed"
    CONTACT_READ = "contact.read"
    SETTINGS_UPDATED = "settings.updated"
    LINK_KEY_ROTATED = "link_key.rotated"
    AUDIT_EXPORTED = "audit.exported"
    DO_NOT_CONTACT_ADDED = "do_not_contact.added"
    DO_NOT_CONTACT_REMOVED = "do_not_contact.removed"
    SUPPRESSION_LIFTED = "suppression.lifted"
    UNSUBSCRIBE_OFF_REQUESTED = "campaign.unsubscribe_off_requested"
    UNSUBSCRIBE_OFF_APPROVED = "campaign.unsubscribe_off_approved"
    OPERATOR_PLAN_SET = "operator.plan_set"
    OPERATOR_COUNTERS_BACKFILLED = "operator.counters_backfilled"


# Keys whose values never enter the log, whoever passes them.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {
        "email",
        "phone",
        "national_id",
        "password",
        "new_password",
        "current_password",
        "code",
        "totp",
        "secret",
        "token",
        "refresh_token",
        "recovery_code",
        "first_name",
        "last_name",
        "name",
        "birth_date",
        "ip",
        "address",
    }
)
# A key containing one of these names a credential (`auth_token`, `api_secret`, `signature_secret`).
SECRET_KEY_PARTS = ("secret", "token", "password", "private_key")
MAX_DETAIL_LENGTH = 500


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in FORBIDDEN_DETAIL_KEYS or any(part in lowered for part in SECRET_KEY_PARTS)


def clean_value(value: Any, depth: int = 0) -> Any:
    """A value fit for the log: forbidden and secret keys dropped at any depth, addresses masked, sizes capped."""
    if depth > 4:
        return None
    if isinstance(value, dict):
        return {str(k): clean_value(v, depth + 1) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean_value(v, depth + 1) for v in list(value)[:50]]
    if isinstance(value, str):
        return mask_text(value[:MAX_DETAIL_LENGTH])
    if isinstance(value, bool | int) or value is None:
        return value
    return mask_text(str(value)[:MAX_DETAIL_LENGTH])


def clean_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """Drops forbidden and secret keys (at any depth) and masks anything that looks like an address in the rest."""
    result: dict[str, Any] = clean_value(details or {})
    return result


WRITE_VERBS = {"POST": "create", "PUT": "set", "PATCH": "update", "DELETE": "delete"}


def route_action(method: str, template: str) -> str:
    """The action an admin write records when its route names none: its path's words and its method.

    `POST /v1/admin/purposes` -> `purposes.create`; `PATCH /v1/admin/purposes/{purpose_id}` -> `purposes.update`;
    `POST /v1/admin/contacts/{contact_id}/erase` -> `contacts.erase` (a trailing word after an id is the verb).
    """
    parts = [p for p in template.removeprefix("/v1/admin/").split("/") if p]
    words = [p for p in parts if not p.startswith(("{", "<"))]
    verb = WRITE_VERBS.get(method.upper(), method.lower())
    if method.upper() == "POST" and len(parts) > 1 and parts[-2].startswith(("{", "<")):
        return ".".join(words)
    return ".".join([*words, verb])


def route_target(params: dict[str, str]) -> tuple[str, str] | None:
    """The target a route's path names: its contact if any, else its last id (`purpose_id` -> `purpose`)."""
    if "contact_id" in params:
        return ("contact", params["contact_id"])
    if not params:
        return None
    name, value = list(params.items())[-1]
    return (name.removesuffix("_id"), str(value))
