"""Who may do what: roles, permissions, and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    SETTINGS_READ = "settings:read"
    SETTINGS_WRITE = "settings:write"
    CATALOG_READ = "catalog:read"  # purposes, sources, legal bases, consent texts
    CATALOG_WRITE = "catalog:write"
    CONTACTS_SEARCH = "contacts:search"
    CONSENT_LOG_READ = "consent-log:read"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    AUTHOR = "author"
    VIEWER = "viewer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset(
        {
            Permission.SETTINGS_READ,
            Permission.CATALOG_READ,
            Permission.CONTACTS_SEARCH,
            Permission.CONSENT_LOG_READ,
        }
    ),
    Role.AUTHOR: frozenset({Permission.CATALOG_READ, Permission.CONTACTS_SEARCH}),
    Role.VIEWER: frozenset({Permission.SETTINGS_READ, Permission.CATALOG_READ}),
}


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    principal_id: str
    principal_type: str  # "api_key" or "staff"
    role: Role

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]
