"""The audit log's vocabulary, and the rule that keeps sensitive values out of it. Pure."""

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
MAX_DETAIL_LENGTH = 500


def clean_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """Drops forbidden keys (at any depth) and masks anything that looks like an address in what is left."""

    def clean(value: Any, depth: int = 0) -> Any:
        if depth > 4:
            return None
        if isinstance(value, dict):
            return {
                str(k): clean(v, depth + 1) for k, v in value.items() if str(k).lower() not in FORBIDDEN_DETAIL_KEYS
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [clean(v, depth + 1) for v in list(value)[:50]]
        if isinstance(value, str):
            return mask_text(value[:MAX_DETAIL_LENGTH])
        if isinstance(value, bool | int) or value is None:
            return value
        return mask_text(str(value)[:MAX_DETAIL_LENGTH])

    result: dict[str, Any] = clean(details or {})
    return result
