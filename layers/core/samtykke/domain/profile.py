"""Profile changes proposed from outside: what differs, and what may never apply without a parent.

An unauthenticated post can claim anything about an address. So a post about an existing contact only proposes
new values; they apply when the address owner confirms, and a birth date that would lift a minor's status
needs a parent's confirmation on top (GDPR Art. 8).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from samtykke.domain.age import is_minor
from samtykke.domain.custom_fields import CUSTOM_FIELDS_KEY

# The fields a form post may propose; addresses find the contact, they are never "changed" by a post.
PROPOSABLE_FIELDS = ("first_name", "last_name", "birth_date", "locale", "national_id")


def proposed_changes(current: dict[str, Any], posted: dict[str, Any]) -> dict[str, Any]:
    """The posted values that differ from what is stored, by field (absent values propose nothing). Custom
    fields are compared one by one: `custom_fields` holds only those that change."""
    changes = {
        name: posted[name]
        for name in PROPOSABLE_FIELDS
        if posted.get(name) is not None and posted.get(name) != current.get(name)
    }
    stored_custom = current.get(CUSTOM_FIELDS_KEY) or {}
    custom = {
        name: value
        for name, value in (posted.get(CUSTOM_FIELDS_KEY) or {}).items()
        if value is not None and stored_custom.get(name) != value
    }
    if custom:
        changes[CUSTOM_FIELDS_KEY] = custom
    return changes


def changed_names(changes: dict[str, Any]) -> list[str]:
    """The fields `changes` sets, sorted, a custom field as `custom_fields.<name>` (the evidence names them)."""
    names = [name for name in changes if name != CUSTOM_FIELDS_KEY]
    names += [f"{CUSTOM_FIELDS_KEY}.{name}" for name in changes.get(CUSTOM_FIELDS_KEY) or {}]
    return sorted(names)


def previous_values(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """What `changes` replaces, in the same shape (a custom field by its own name)."""
    stored_custom = current.get(CUSTOM_FIELDS_KEY) or {}
    return {
        name: {k: stored_custom.get(k) for k in value} if name == CUSTOM_FIELDS_KEY else current.get(name)
        for name, value in changes.items()
    }


def lifts_minor(stored: date | None, proposed: date | None, country: str, today: date) -> bool:
    """True when applying `proposed` would make a stored minor count as an adult."""
    return proposed is not None and is_minor(stored, country, today) and not is_minor(proposed, country, today)
