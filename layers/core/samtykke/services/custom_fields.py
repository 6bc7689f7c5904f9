"""Staff setting a contact's custom fields (what the person told them, or a CRM's sync).

Staff are authenticated, so unlike a public post the values apply at once: through the ledger, guarded by the
profile's head like any write, sealed with the contact's key, without a consent event. The audit log records
`contact.fields_changed` naming the contact and each field that changed, but not its values: they are personal
data, and the audit log outlives an erasure, which must leave none behind.
"""

from __future__ import annotations

from typing import Any

from samtykke.domain.access import Principal
from samtykke.domain.audit import AuditAction
from samtykke.domain.audit.changes import describe_changes
from samtykke.domain.custom_fields import CUSTOM_FIELDS_KEY, validate_custom_values
from samtykke.models.consent import Actor, ActorType, ContactProfile, ContactSummary, Evidence
from samtykke.services import audit
from samtykke.services.contacts import contact_summary, require_contact
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange


def set_custom_fields(
    svc: Services, principal: Principal, contact_id: str, posted: dict[str, Any], *, ip: str | None
) -> ContactSummary:
    """Sets the given custom fields (each checked by its declared type); the contact's others stay as they are."""
    tenant_id = principal.tenant_id
    require_contact(svc, tenant_id, contact_id)  # an unknown contact is 404 whatever the body says
    catalog = svc.catalogs.get(tenant_id)
    values = validate_custom_values(catalog.tenant.custom_field_types(), posted, catalog.tenant.country)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    target = ContactTarget(contact_id=contact_id, profile_only=True)
    before: dict[str, Any] = {}

    def decide(contact: LoadedContact) -> list[StateChange]:
        before.clear()
        before.update(contact.profile.custom_fields or {})
        target.profile_updates = ContactProfile(custom_fields=values) if values else None
        return []

    actor = Actor(type=ActorType.STAFF, id=principal.principal_id)
    Ledger(svc, keys).write(target, decide, actor, Evidence(at=svc.clock()))  # no event, so no evidence is kept
    after = {**before, **values}
    changes = [
        {**change, "field": f"{CUSTOM_FIELDS_KEY}.{change['field']}"}
        for change in describe_changes(before, after, sensitive=set(after))  # no sealer: names only
    ]
    audit.record(
        svc,
        principal,
        AuditAction.CONTACT_FIELDS_CHANGED,
        ("contact", contact_id),
        ip,
        {"fields": sorted(values)},
        changes=changes,
    )
    return contact_summary(svc, tenant_id, contact_id)
