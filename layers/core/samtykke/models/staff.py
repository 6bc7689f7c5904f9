"""Staff users, sessions, MFA, API keys, plan and security settings, and the audit log."""

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from samtykke.domain.access import Permission, Role
from samtykke.models.common import FormTolerantModel, Model
from samtykke.models.tenant import Plan

DEMO_OWNER_EMAIL = "owner@demo.example"
DEMO_OWNER_PASSWORD = "local-trial-passphrase"  # noqa: S105  (the local demo tenant only; see bootstrap.py)
DEMO_EDITOR_USER_ID = "usr_demo_editor"

Grant = Literal["sensitive:read"]


class LoginRequest(Model):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {"email": DEMO_OWNER_EMAIL, "password": DEMO_OWNER_PASSWORD, "tenant_id": "demo"},
        },
    )
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16, description="The current code of the user's authenticator")
    recovery_code: str | None = Field(default=None, max_length=32, description="One of the user's recovery codes")
    tenant_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Needed only when the email has accounts in several tenants",
    )


class SessionTokens(Model):
    token: str = Field(description="A bearer session token (`sts_…`) for `Authorization: Bearer`")
    refresh_token: str | None = Field(
        default=None, description="Single use: `POST /v1/auth/refresh` swaps it for new tokens"
    )
    expires_in: int = Field(description="Seconds until `token` expires")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    tenant_id: str
    user_id: str
    role: Role
    scope: str = Field(description="`full`, or `mfa_enrolment`: the token may only enrol an MFA factor")
    mfa_enrolment_required: bool = False


class RefreshRequest(Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"refresh_token": "rt_demo.fam_0123456789abcdef.secret-from-the-last-login"}},
    )
    refresh_token: str = Field(min_length=10, max_length=512)


class PasswordResetRequest(Model):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"example": {"email": DEMO_OWNER_EMAIL, "tenant_id": "demo"}},
    )
    email: str = Field(min_length=3, max_length=320)
    tenant_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")


class NewPassword(FormTolerantModel):
    model_config = ConfigDict(json_schema_extra={"example": {"password": "a new long passphrase"}})
    password: str = Field(min_length=1, max_length=1024)


class Accepted(Model):
    status: str


class UserCreate(Model):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {"email": "new.editor@demo.example", "role": "editor", "password": "correct horse battery"}
        },
    )
    email: str = Field(min_length=3, max_length=320)
    role: Role
    password: str | None = Field(
        default=None,
        max_length=1024,
        description="Leave out to send an invitation: the user sets a password through an emailed one-time link",
    )
    grants: list[Grant] = Field(default_factory=list, max_length=5)


class UserUpdate(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"role": "editor", "active": True}})
    role: Role | None = None
    grants: list[Grant] | None = Field(default=None, max_length=5)
    active: bool | None = None


class StaffUser(Model):
    user_id: str
    tenant_id: str
    email: str | None
    role: Role
    grants: list[Permission]
    status: Literal["active", "invited", "deactivated"]
    mfa_enabled: bool
    created_at: datetime
    last_login_at: datetime | None = None


class UserCreated(StaffUser):
    invitation_sent: bool


class Me(Model):
    tenant_id: str
    principal_id: str
    principal_type: str
    role: Role
    grants: list[Permission]
    scope: str
    permissions: list[Permission]
    email: str | None = None
    mfa_enabled: bool | None = None


class MfaEnrolment(Model):
    otpauth_uri: str = Field(description="Scan it as a QR code, or type `secret` into the authenticator")
    secret: str = Field(description="Base32; shown only now")
    qr_svg: str = Field(description="The URI as a QR code, an SVG document")
    issuer: str
    account: str
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30


class MfaCode(Model):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"example": {"code": "123456"}}
    )
    code: str = Field(min_length=6, max_length=16)


class MfaActivated(Model):
    mfa_enabled: bool
    recovery_codes: list[str] = Field(description="Single use, shown only now: store them safely")


class MfaState(Model):
    mfa_enabled: bool


class PasswordChange(Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"current_password": "the current one", "new_password": "a new long passphrase"}},
    )
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PlanUpdate(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"plan": "plus"}})
    plan: Plan


class SecuritySettings(Model):
    plan: Plan
    mfa_required: bool
    mfa_available: bool


class SecuritySettingsUpdate(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"mfa_required": False}})
    mfa_required: bool


class ApiKeyCreate(Model):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"role": "viewer", "label": "CRM sync (read only)"}}
    )
    role: Role
    label: str = Field(min_length=1, max_length=100)
    grants: list[Grant] = Field(default_factory=list, max_length=5)


class ApiKey(Model):
    key_id: str
    role: Role
    label: str
    grants: list[Permission] = Field(default_factory=list)
    created_at: datetime
    revoked: bool = False
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKey):
    secret: str = Field(description="The bearer key; shown only now, stored only as a hash")


class AuditActorOut(Model):
    type: str | None
    id: str | None
    role: str | None = None


class AuditTarget(Model):
    type: str
    id: str | None = None


class AuditChange(Model):
    field: str
    before: Any = None
    after: Any = None
    secret: bool = Field(default=False, description="A credential: only that it changed is recorded")
    sealed: bool = Field(default=False, description="A sensitive value: `before`/`after` are sealed with a tenant key")


class AuditEntry(Model):
    entry_id: str = Field(description="`yyyy-mm/<sort key>`")
    seq: int = Field(description="The entry's place in its tenant's and month's hash chain, from 1")
    at: datetime
    action: str
    actor: AuditActorOut
    target: AuditTarget | None = None
    contacts: list[str] = Field(default_factory=list, description="Every contact whose data was read or changed")
    route: str | None = Field(default=None, description="The admin route, as `METHOD /path/{param}`")
    ip: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    changes: list[AuditChange] = Field(default_factory=list, description="Before/after values of a write")
    prev_hash: str
    hash: str


class AuditPage(Model):
    month: str
    entries: list[AuditEntry]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next (older) page")
    previous_month: str = Field(description="The month before; entries are partitioned by month")
