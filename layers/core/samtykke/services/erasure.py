"""Erasure by anonymisation (GDPR Art. 17), and the shredding that expiry shares with it.

1. Every address of the contact is suppressed with reason `erased` on every channel it reaches. The suppression
   stays on the address item, keyed by the address's blind index (a keyed hash): a later import or sign-up of the
   same address is refused as suppressed, and nothing else about the address remains.
2. Every consent state is withdrawn through the ledger with an `erase` event (no personal data; its sealed
   evidence is shredded with the rest), so the audience index forgets the contact at once.
3. Each address item's pointer to the contact is removed: a search by the old address finds only the suppression.
4. The contact is crypto-shredded: the wrapped contact key, the sealed profile and the blind indexes go, guarded by
   the log head's sequence number (a consent change in between makes it withdraw again first). The profile item
   stays as a tombstone (`erased`, `erased_at`), so statistics and the log's references still add up, and the
   hash chain, which covers only ciphertext, still verifies.
5. The contact's evidence files and any big exports are deleted from S3, every version, through the
   governance-mode bypass (logged by key and version), and their items removed. The bypass is evidence_check's
   alone: erasure counts the versions and queues the deletion, which evidence_check honours once it sees the
   tombstone (`services/evidence_deletion.py`), seconds later.

Each step is idempotent: erasing again finishes whatever a failed attempt left, and answers `already_erased`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from samtykke.adapters import evidence_queue
from samtykke.adapters.repository import PROFILE, contact_pk
from samtykke.adapters.rights_repository import EVIDENCE
from samtykke.domain.access import Principal
from samtykke.domain.consent import CHANNEL_ADDRESS, ActorType, AddressKind, ConsentStatus, EventType, LegalBasis
from samtykke.domain.errors import RetryableError
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.domain.uploads import contact_evidence_prefix, export_prefix
from samtykke.models.consent import Actor, Evidence
from samtykke.models.rights import ErasureResult
from samtykke.services import audit
from samtykke.services.context import Services
from samtykke.services.evidence import evidence_store, rights_repo
from samtykke.services.ledger import ContactNotFound, ContactTarget, Ledger, LoadedContact, StateChange

ERASURE_SOURCE = "erasure"
MAX_ATTEMPTS = 4


def _channels(kind: AddressKind) -> list[Any]:
    return [channel for channel, reaches in CHANNEL_ADDRESS.items() if reaches is kind]


def count_contact_files(svc: Services, tenant_id: str, contact_id: str) -> int:
    """How many versions of the contact's evidence objects and exports the bucket holds."""
    store = evidence_store(svc)
    return store.count_versions(contact_evidence_prefix(tenant_id, contact_id)) + store.count_versions(
        export_prefix(tenant_id, contact_id)
    )


def delete_contact_files(svc: Services, tenant_id: str, contact_id: str, *, reason: str) -> None:
    """Queues the deletion of a shredded contact's objects (every version) for evidence_check; removes their items."""
    evidence_queue.request_contact_files_deletion(tenant_id, contact_id, reason=reason)
    repo = rights_repo(svc)
    items = list(repo.query(contact_pk(tenant_id, contact_id), prefix=EVIDENCE, projection="pk, sk"))
    repo.batch_delete([(i["pk"], i["sk"]) for i in items])


def shred(
    svc: Services,
    tenant_id: str,
    contact: LoadedContact,
    expected_seq: int,
    *,
    at: datetime,
    reason: str,
    forget_addresses: bool = False,
) -> bool:
    """Releases the contact's addresses and crypto-shreds it; False if its log moved on meanwhile."""
    repo = rights_repo(svc)
    for kind, blind_index in contact.blind_indexes.items():
        repo.release_address(
            tenant_id, kind.value, blind_index, contact.contact_id, forget_unsuppressed=forget_addresses
        )
    return repo.shred_contact(
        tenant_id, contact.contact_id, expected_seq=expected_seq, at=at.isoformat(), reason=reason
    )


def erase_contact(svc: Services, principal: Principal, contact_id: str, *, ip: str | None) -> ErasureResult:
    tenant_id = principal.tenant_id
    existing = svc.repo.get(contact_pk(tenant_id, contact_id), PROFILE, consistent=True)
    if existing is None or not contact_id.startswith("con_"):
        raise ContactNotFound("No such contact")
    if existing.get("erased"):
        deleted = count_contact_files(svc, tenant_id, contact_id)
        delete_contact_files(svc, tenant_id, contact_id, reason="erasure")
        # Recorded again: a retry after a failed audit write must not leave the erasure unaudited.
        audit.record(
            svc,
            principal,
            audit.AuditAction.CONTACT_ERASED,
            ("contact", contact_id),
            ip,
            {"already_erased": True, "evidence_objects_deleted": deleted, "governance_bypass": deleted > 0},
        )
        return ErasureResult(
            contact_id=contact_id,
            erased_at=existing.get("erased_at") or svc.clock(),
            already_erased=True,
            evidence_objects_deleted=deleted,
        )

    catalog = svc.catalogs.get(tenant_id)
    ledger = Ledger(svc, svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob))
    now = svc.clock()
    actor = Actor(type=ActorType(principal.principal_type), id=principal.principal_id)
    record = {"reason": SuppressionReason.ERASED.value, "at": now.isoformat()}
    withdrawn = 0
    suppressed = 0
    for _ in range(MAX_ATTEMPTS):
        contact = ledger.load(contact_id)
        for kind, blind_index in contact.blind_indexes.items():
            for channel in _channels(kind):
                svc.repo.set_address_suppression(tenant_id, kind.value, blind_index, suppression_key(channel), record)
        suppressed = len(contact.blind_indexes)

        def decide(current: LoadedContact) -> list[StateChange]:
            return [
                StateChange(
                    purpose, channel, EventType.ERASE, ConsentStatus.WITHDRAWN, LegalBasis.WITHDRAWN, ERASURE_SOURCE
                )
                for (purpose, channel), state in sorted(current.states.items())
                if not (state.status is ConsentStatus.WITHDRAWN and state.source == ERASURE_SOURCE)
            ]

        result = ledger.write(
            ContactTarget(contact_id=contact_id), decide, actor, Evidence(at=now, note="erasure by anonymisation")
        )
        withdrawn += len(result.events)
        if shred(svc, tenant_id, result.contact, result.contact.seq + len(result.events), at=now, reason="erased"):
            break
    else:
        raise RetryableError("The contact kept changing during erasure; retry", code="contention")

    deleted = count_contact_files(svc, tenant_id, contact_id)
    delete_contact_files(svc, tenant_id, contact_id, reason="erasure")
    audit.record(
        svc,
        principal,
        audit.AuditAction.CONTACT_ERASED,
        ("contact", contact_id),
        ip,
        {
            "withdrawn_states": withdrawn,
            "suppressed_addresses": suppressed,
            "evidence_objects_deleted": deleted,
            "governance_bypass": deleted > 0,
        },
    )
    return ErasureResult(
        contact_id=contact_id,
        erased_at=now,
        withdrawn_states=withdrawn,
        evidence_objects_deleted=deleted,
        suppressed_addresses=suppressed,
    )
