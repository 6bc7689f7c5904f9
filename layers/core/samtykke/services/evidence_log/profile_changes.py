"""Profile values proposed by a post, kept sealed until the address owner confirms, and the history of changes.

Both live on the contact's profile item, sealed with the contact's key like the profile itself (so erasure
shreds them too): `pending_profile` holds the latest proposal, `profile_history` every applied change with the
values it replaced. They are written by the same ledger transaction as the events that record them.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime
from typing import Any

from samtykke.domain.profile import changed_names, lifts_minor, previous_values, proposed_changes
from samtykke.models.consent import ContactProfile
from samtykke.services.ledger import LoadedContact

PENDING_FIELD = "pending_profile"
HISTORY_FIELD = "profile_history"


def _seal(contact: LoadedContact, name: str, value: Any) -> bytes:
    return contact.box.seal(name, json.dumps(value, separators=(",", ":"), default=str).encode())


def _open(contact: LoadedContact, name: str, default: Any) -> Any:
    sealed = contact.item.get(name)
    return json.loads(contact.box.open(name, sealed)) if sealed else default


def pending(contact: LoadedContact) -> dict[str, Any]:
    """The proposal waiting for confirmation: `{"change_id", "proposed_at", "fields"}`, or {}."""
    value: dict[str, Any] = _open(contact, PENDING_FIELD, {})
    return value


def history(contact: LoadedContact) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = _open(contact, HISTORY_FIELD, [])
    return value


def propose(
    contact: LoadedContact, posted: ContactProfile, at: datetime
) -> tuple[str | None, dict[str, Any], list[str]]:
    """The change id, the profile-item extras that keep the post's new values pending, and the fields they
    change; (None, {}, []) when the post changes nothing."""
    current = contact.profile.model_dump(mode="json", exclude_none=True)
    fields = proposed_changes(current, posted.model_dump(mode="json", exclude_none=True))
    if not fields:
        return None, {}, []
    change_id = secrets.token_urlsafe(12)
    proposal = {"change_id": change_id, "proposed_at": at.isoformat(), "fields": fields}
    return change_id, {PENDING_FIELD: _seal(contact, PENDING_FIELD, proposal)}, changed_names(fields)


def apply(
    contact: LoadedContact, change_id: str | None, *, country: str, at: datetime
) -> tuple[ContactProfile | None, dict[str, Any], list[str]]:
    """Applies the pending proposal `change_id` (the confirmation link's): the profile updates, the extras that
    record it in the history, and the fields applied. A birth date that would lift a minor stays pending."""
    proposal = pending(contact)
    if not change_id or proposal.get("change_id") != change_id:
        return None, {}, []
    fields = dict(proposal["fields"])
    held: dict[str, Any] = {}
    proposed_birth = fields.get("birth_date")
    if proposed_birth and lifts_minor(
        contact.profile.birth_date, date.fromisoformat(proposed_birth), country, at.date()
    ):
        held["birth_date"] = fields.pop("birth_date")  # only a parent's confirmation may lift it
    current = contact.profile.model_dump(mode="json")
    entry = {
        "change_id": change_id,
        "proposed_at": proposal["proposed_at"],
        "applied_at": at.isoformat(),
        "previous": previous_values(current, fields),
        "new": fields,
    }
    remaining = {**proposal, "fields": held} if held else {}
    extras = {PENDING_FIELD: _seal(contact, PENDING_FIELD, remaining)}
    if fields:
        extras[HISTORY_FIELD] = _seal(contact, HISTORY_FIELD, [*history(contact), entry])
    return (ContactProfile.model_validate(fields) if fields else None), extras, changed_names(fields)
