"""Profile changes proposed from outside: what differs, and what may never apply without a parent.

An unauthenticated post can claim anything about an address. So a post about an existing contact only proposes
new values; they apply when the address owner confirms, and a birth date that would lift a minor's status
needs a parent's confirmation on top (GDPR Art. 8).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from samtykke.domain.age import is_minor

# The fields a form post may propose; addresses find the contact, they are never "changed" by a post.
PROPOSABLE_FIELDS = ("first_name", "last_name", "birth_date", "locale", "national_id")


def proposed_changes(current: dict[str, Any], posted: dict[str, Any]) -> dict[str, Any]:
    """The posted values that differ from what is stored, by field (absent values propose nothing)."""
    return {
        name: posted[name]
        for name in PROPOSABLE_FIELDS
        if posted.get(name) is not None and posted.get(name) != current.get(name)
    }


def lifts_minor(stored: date | None, proposed: date | None, country: str, today: date) -> bool:
    """True when applying `proposed` would make a stored minor count as an adult."""
    return proposed is not None and is_minor(stored, country, today) and not is_minor(proposed, country, today)
