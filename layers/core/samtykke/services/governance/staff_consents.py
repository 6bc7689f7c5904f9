"""Staff acting on a person's behalf: a grant, a withdrawal or a legal-basis change they told us about.

Written through the consent log (`services/ledger.py`) like any change: the event's actor is the staff member
(`type: staff`), its source how the person told us (`phone`, `letter`, `in-person`…), its evidence the required
note (sealed with the contact's key). The audit log records `consent.changed_by_staff` naming the contact.
A marketing purpose is granted only on `consent` (domain/purposes.py).
"""

from __future__ import annotations

from samtykke.domain.access import Principal
from samtykke.domain.audit import AuditAction
from samtykke.domain.consent import ConsentStatus, EventType, LegalBasis
from samtykke.domain.errors import Conflict, InvalidInput
from samtykke.domain.purposes import PurposeKind, recorded_basis
from samtykke.models.consent import Actor, ActorType, Evidence
from samtykke.models.staff_consent import StaffConsentAction, StaffConsentChange, StaffConsentResult
from samtykke.services import audit
from samtykke.services.contacts import require_contact
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange


class NoConsentToChange(Conflict):
    code = "no_consent_to_change"


def record_for_contact(
    svc: Services, principal: Principal, contact_id: str, change: StaffConsentChange, *, ip: str | None
) -> StaffConsentResult:
    tenant_id = principal.tenant_id
    require_contact(svc, tenant_id, contact_id)
    catalog = svc.catalogs.get(tenant_id)
    purpose = catalog.purposes.get(change.purpose)
    if purpose is None or not purpose.active:
        raise InvalidInput(f"Unknown or inactive purpose '{change.purpose}'", code="unknown_purpose")
    if change.channel not in purpose.channels:
        raise InvalidInput(f"'{change.purpose}' has no {change.channel.value} channel", code="channel_not_in_purpose")
    basis = change.legal_basis
    if change.action is StaffConsentAction.BASIS_CHANGE and basis is None:
        raise InvalidInput("A legal-basis change names the new basis", code="legal_basis_required")
    if basis is LegalBasis.WITHDRAWN or (
        basis not in (None, LegalBasis.CONSENT) and purpose.kind is PurposeKind.MARKETING
    ):
        raise InvalidInput("A marketing purpose rests on consent only", code="marketing_requires_consent")

    decided: list[StateChange] = []  # the last attempt's decision (the ledger retries on a concurrent write)

    def decide(contact: LoadedContact) -> list[StateChange]:
        decided.clear()
        decided.append(_decide(contact))
        return list(decided)

    def _decide(contact: LoadedContact) -> StateChange:
        current = contact.states.get((change.purpose, change.channel))
        source = f"staff-{change.source.value}"
        if change.action is StaffConsentAction.GRANT:
            granted = recorded_basis(purpose.kind, purpose.default_legal_basis, basis)
            return StateChange(change.purpose, change.channel, EventType.GRANT, ConsentStatus.GRANTED, granted, source)
        if current is None:
            raise NoConsentToChange("The contact has no consent for this purpose and channel to change")
        if change.action is StaffConsentAction.WITHDRAW:
            withdrawn = (EventType.WITHDRAW, ConsentStatus.WITHDRAWN, LegalBasis.WITHDRAWN)
            return StateChange(change.purpose, change.channel, *withdrawn, source)
        assert basis is not None
        return StateChange(change.purpose, change.channel, EventType.BASIS_CHANGE, current.status, basis, source)

    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    actor = Actor(type=ActorType.STAFF, id=principal.principal_id)
    evidence = Evidence(ip=ip, at=svc.clock(), note=change.note)
    result = Ledger(svc, keys).write(ContactTarget(contact_id=contact_id), decide, actor, evidence)
    event, legal_basis = result.events[0], decided[0].legal_basis
    details = {
        "action": change.action.value,
        "purpose": change.purpose,
        "channel": change.channel.value,
        "source": change.source.value,
        "event_id": event.event_id,
        "legal_basis": legal_basis.value,
    }
    audit.record(svc, principal, AuditAction.CONSENT_CHANGED, ("contact", contact_id), ip, details)
    return StaffConsentResult(
        contact_id=contact_id,
        event_id=event.event_id,
        purpose=change.purpose,
        channel=change.channel,
        status=event.status,
        legal_basis=legal_basis,
    )
