"""Who may do what: roles, permissions, grants, and the principal a request acts as.

This module is the ONE place where roles map to permissions. Routes declare a permission with
`api.auth.guarded(Permission.X)`; responses are shaped (addresses masked, evidence and sensitive fields
withheld) from the same permissions by `api.shaping`. Nothing checks a role name anywhere else.

A permission is `resource:action`. Roles are built from rules over those names rather than from hand
lists, so a permission that another capability adds lands in the roles it obviously belongs to:

| role | may |
| --- | --- |
| `owner` | everything |
| `admin` | everything (the plan is the deployment operator's: `samtykke tenant plan`, never a tenant's) |
| `editor` | contacts and campaigns: every `contacts:*`, `campaigns:*`, `consent-log:*`, `imports:*`, |
| | `exports:*`, addresses and evidence; reading settings and the catalogue; `self` |
| `author` | reading the catalogue and settings; searching contacts and reading the consent log with |
| | addresses MASKED and evidence withheld; writing (not sending) campaigns; `self`. Never |
| | `addresses:read`, `evidence:read`, imports, exports or erasure |
| `viewer` | every `*:read` and `*:search`, except the audit log, the staff list and `sensitive:read`; and `self` |

`sensitive:read` (decrypted national IDs, the tenant's `sensitive_fields` and its sensitive custom fields) is part
of `owner` and `admin`, and is a grant (`Principal.grants`) that can be given on top of any other role: the
customer picks who sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    SETTINGS_READ = "settings:read"
    SETTINGS_WRITE = "settings:write"
    CATALOG_READ = "catalog:read"  # purposes, sources, legal bases, consent texts
    CATALOG_WRITE = "catalog:write"
    CONTACTS_SEARCH = "contacts:search"
    CONSENT_LOG_READ = "consent-log:read"
    CONSENTS_WRITE = "consents:write"  # staff recording a person's decision on their behalf (editor and up)
    CONTACTS_WRITE = "contacts:write"  # staff setting a contact's custom fields (editor and up)
    # Response shaping: without these, emails and phones are masked (`j***@example.dk`), evidence is withheld,
    # and national IDs and the tenant's sensitive fields are redacted, whatever route answers.
    ADDRESSES_READ = "addresses:read"
    EVIDENCE_READ = "evidence:read"
    SENSITIVE_READ = "sensitive:read"
    # Staff, sessions and the tenant's security.
    SELF = "self:manage"  # one's own profile, password and MFA factor
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    API_KEYS_MANAGE = "api-keys:manage"
    SECURITY_WRITE = "security:write"  # the tenant's MFA policy
    AUDIT_READ = "audit:read"
    # SMS provider secrets, keywords and inbound numbers (owner and admin; reading them is `settings:read`).
    SMS_SETTINGS_WRITE = "sms-settings:write"
    # Signed links: a contact's unsubscribe and preference-centre links (for a CRM), and a test email carrying them.
    CONTACT_LINKS = "contacts:links"
    CAMPAIGNS_SEND_TEST = "campaigns:send-test"
    # Data-subject rights and evidence (services/export.py, erasure.py, imports.py, evidence.py). The rules above
    # give all of them to owner, admin and editor; `imports:read` (progress counts, no personal data) to viewer.
    CONTACTS_EXPORT = "contacts:export"  # the Art. 15/20 export and the consent form report
    CONTACTS_ERASE = "contacts:erase"  # erasure; deletes evidence objects through the governance-mode bypass
    CONTACTS_IMPORT = "contacts:import"  # creating and starting a lawful import
    IMPORTS_READ = "imports:read"  # an import's progress and its report of bad and skipped rows
    EVIDENCE_WRITE = "evidence:write"  # attaching screenshots to a consent event or an import's declaration
    # Campaigns (services/campaigns.py). The rules above give all three to owner, admin and editor; read and write
    # (creating, dry runs) but never send to author; read to viewer.
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    CAMPAIGNS_SEND = "campaigns:send"
    # Change events (services/webhooks, services/events): owner and admin write webhook subscriptions; reading them,
    # their delivery log and the change feed is for every role but author.
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    CHANGES_READ = "changes:read"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    AUTHOR = "author"
    VIEWER = "viewer"


# Highest first: a principal may give (to a user or an API key) only a role at or below its own.
ROLE_RANK: dict[Role, int] = {Role.OWNER: 4, Role.ADMIN: 3, Role.EDITOR: 2, Role.AUTHOR: 1, Role.VIEWER: 0}

# Permissions that can be granted on top of a role.
GRANTABLE: frozenset[Permission] = frozenset({Permission.SENSITIVE_READ})

OWNER_ONLY: frozenset[Permission] = frozenset()
EDITOR_RESOURCES = frozenset(
    {"contacts", "campaigns", "consent-log", "consents", "imports", "exports", "addresses", "evidence"}
)
READ_ACTIONS = frozenset({"read", "search"})
VIEWER_EXCLUDED: frozenset[Permission] = frozenset(
    {Permission.AUDIT_READ, Permission.USERS_READ, Permission.SENSITIVE_READ}
)
AUTHOR_EXCLUDED_ACTIONS = frozenset({"import", "export", "erase", "send", "delete"})
AUTHOR_EXCLUDED: frozenset[Permission] = frozenset(
    {Permission.ADDRESSES_READ, Permission.EVIDENCE_READ, Permission.SENSITIVE_READ}
)


def _resource(permission: Permission) -> str:
    return permission.value.split(":", 1)[0]


def _action(permission: Permission) -> str:
    return permission.value.split(":", 1)[-1]


def _editor(permission: Permission) -> bool:
    if permission is Permission.SENSITIVE_READ:
        return False
    return _resource(permission) in EDITOR_RESOURCES or permission in (
        Permission.SELF,
        Permission.SETTINGS_READ,
        Permission.CATALOG_READ,
        Permission.WEBHOOKS_READ,
        Permission.CHANGES_READ,
    )


def _author(permission: Permission) -> bool:
    if permission in AUTHOR_EXCLUDED or _action(permission) in AUTHOR_EXCLUDED_ACTIONS:
        return False
    if permission in (
        Permission.SELF,
        Permission.SETTINGS_READ,
        Permission.CATALOG_READ,
        Permission.CONTACTS_SEARCH,
        Permission.CONSENT_LOG_READ,
    ):
        return True
    return _resource(permission) == "campaigns" and _action(permission) in ("read", "write")


def _viewer(permission: Permission) -> bool:
    return permission is Permission.SELF or (_action(permission) in READ_ACTIONS and permission not in VIEWER_EXCLUDED)


def role_permissions() -> dict[Role, frozenset[Permission]]:
    everything = frozenset(Permission)
    return {
        Role.OWNER: everything,
        Role.ADMIN: everything - OWNER_ONLY,
        Role.EDITOR: frozenset(p for p in Permission if _editor(p)),
        Role.AUTHOR: frozenset(p for p in Permission if _author(p)),
        Role.VIEWER: frozenset(p for p in Permission if _viewer(p)),
    }


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = role_permissions()


def parse_grants(values: object) -> frozenset[Permission]:
    """Grants from storage or an authorizer context (a list, or a comma-separated string); unknown ones dropped."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v]
    if not isinstance(values, list | tuple | set | frozenset):
        return frozenset()
    known = {p.value for p in GRANTABLE}
    return frozenset(Permission(v) for v in values if v in known)


class Scope(StrEnum):
    FULL = "full"
    # A staff session that may only enrol an MFA factor: the tenant requires MFA and the user has none yet.
    MFA_ENROLMENT = "mfa_enrolment"


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    principal_id: str
    principal_type: str  # "api_key" or "staff"
    role: Role
    grants: frozenset[Permission] = field(default_factory=frozenset)
    scope: Scope = Scope.FULL

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role] or permission in self.grants

    @property
    def is_staff(self) -> bool:
        return self.principal_type == "staff"


def may_assign(assigner: Principal, role: Role, grants: frozenset[Permission]) -> bool:
    """Whether `assigner` may give `role` and `grants` (to a user or an API key): never more than it holds."""
    if ROLE_RANK[role] > ROLE_RANK[assigner.role]:
        return False
    return all(assigner.may(grant) for grant in grants)
