"""Before/after values for the audit log: what changed, with secrets never and sensitive values only sealed. Pure.

`describe_changes(before, after, ...)` compares two flat mappings (a setting, a purpose, an SMS configuration)
and lists each field whose value differs:

- a secret (`auth_token`, `api_secret`, a key's material): only `{"field", "secret": true}`: that it changed;
- a sensitive value (a national ID, a tenant's sensitive custom field): `before`/`after` sealed by `seal`,
  as the contact profile seals them, so only a tenant key opens them;
- anything else: `before`/`after` as they are, masked like every audit detail.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from samtykke.domain.audit import clean_value, is_secret_key

Sealer = Callable[[str, Any], str]
MAX_CHANGES = 100
ALWAYS_SENSITIVE = frozenset({"national_id"})


def describe_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    sensitive: Collection[str] = (),
    seal: Sealer | None = None,
) -> list[dict[str, Any]]:
    old, new = dict(before or {}), dict(after or {})
    changes: list[dict[str, Any]] = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        if name in sensitive or name in ALWAYS_SENSITIVE:
            changes.append({"field": name, "sealed": True, **_sealed(name, old.get(name), new.get(name), seal)})
        elif is_secret_key(name):
            changes.append({"field": name, "secret": True})
        else:
            changes.append({"field": name, "before": clean_value(old.get(name)), "after": clean_value(new.get(name))})
    return changes[:MAX_CHANGES]


def _sealed(name: str, before: Any, after: Any, seal: Sealer | None) -> dict[str, Any]:
    if seal is None:  # nobody to seal with: record only that it changed
        return {}
    return {
        "before": None if before is None else seal(name, before),
        "after": None if after is None else seal(name, after),
    }
