"""Retention: unconfirmed double opt-ins expire after the tenant's `pending_ttl_days`.

A pending consent is a state in the contact's partition, next to everything else about the person, so it cannot
simply be given a DynamoDB TTL. Instead the ledger lists every pending state in the `audience` index under
`PENDING#{day}`, and the `retention_sweeper` function (an hourly EventBridge schedule) reads the last
MAX_PENDING_TTL_DAYS days of that list. For each state past its tenant's TTL that is still the same pending request,
it writes an `expire` event through the ledger (status `withdrawn`; the index entry goes with the state).

If that leaves the contact with nothing but expired requests, the person never confirmed anything: the contact is
crypto-shredded like an erasure but without a suppression (they may sign up again), and its address items are
released. What remains is the log itself, whose evidence can no longer be read: no trace but the expiry.
How long evidence files are kept is the other retention setting, `evidence_retention_days`, applied as each
file's Object Lock date by `services/evidence.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from samtykke.adapters.repository import contact_pk
from samtykke.adapters.rights_repository import EVENT
from samtykke.domain.consent import ActorType, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.domain.errors import NotFound
from samtykke.models.consent import Actor, Evidence
from samtykke.models.tenant import MAX_PENDING_TTL_DAYS
from samtykke.observability import logger
from samtykke.services.context import Services
from samtykke.services.erasure import delete_contact_files, shred
from samtykke.services.evidence import rights_repo
from samtykke.services.ledger import ContactNotFound, ContactTarget, Ledger, LoadedContact, StateChange

SWEEPER = Actor(type=ActorType.SYSTEM, id="retention_sweeper")
TIME_MARGIN_MS = 30_000
MIN_TTL = timedelta(days=1)
LOOKBACK_SLACK_DAYS = 8  # days beyond the longest TTL, in case the sweeper was down


@dataclass
class SweepResult:
    expired: int = 0
    shredded_contacts: int = 0
    skipped: int = 0
    stopped_early: bool = False
    tenants: set[str] = field(default_factory=set)


def sweep(svc: Services, *, remaining_ms: Callable[[], int] = lambda: 10**9) -> SweepResult:
    """Expires every pending double opt-in older than its tenant's TTL, oldest day first."""
    now = svc.clock()
    result = SweepResult()
    repo = rights_repo(svc)
    newest_possible = (now - MIN_TTL).isoformat()
    for days_back in range(MAX_PENDING_TTL_DAYS + LOOKBACK_SLACK_DAYS, 0, -1):
        day = (now - timedelta(days=days_back - 1)).date().isoformat()
        for entry in repo.pending_before(day, newest_possible):
            if remaining_ms() < TIME_MARGIN_MS:
                result.stopped_early = True
                return result
            requested, tenant_id, contact_id, purpose, channel = str(entry["gsi1sk"]).split("#", 4)
            try:
                ttl = svc.catalogs.get(tenant_id).tenant.pending_ttl_days
            except NotFound:
                result.skipped += 1
                continue
            if datetime.fromisoformat(requested) + timedelta(days=ttl) > now:
                continue
            outcome = expire(svc, tenant_id, contact_id, purpose, Channel(channel), str(entry.get("event_id")))
            result.tenants.add(tenant_id)
            if outcome == "skipped":
                result.skipped += 1
            else:
                result.expired += 1
                result.shredded_contacts += outcome == "shredded"
    return result


def expire(svc: Services, tenant_id: str, contact_id: str, purpose: str, channel: Channel, event_id: str) -> str:
    """Expires one pending request if it is still the same one; `expired`, `shredded` or `skipped`."""
    catalog = svc.catalogs.get(tenant_id)
    ledger = Ledger(svc, svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob))
    now = svc.clock()

    def decide(contact: LoadedContact) -> list[StateChange]:
        state = contact.states.get((purpose, channel))
        if state is None or state.status is not ConsentStatus.PENDING or state.event_id != event_id:
            return []  # confirmed, withdrawn or asked for again since the index entry was read
        return [
            StateChange(
                purpose,
                channel,
                EventType.EXPIRE,
                ConsentStatus.WITHDRAWN,
                LegalBasis.WITHDRAWN,
                state.source,
                state.text,
            )
        ]

    try:
        written = ledger.write(
            ContactTarget(contact_id=contact_id), decide, SWEEPER, Evidence(at=now, note="double opt-in expired")
        )
    except ContactNotFound:
        return "skipped"
    if not written.events:
        return "skipped"
    logger.info("Pending double opt-in expired", extra={"tenant_id": tenant_id, "contact_id": contact_id})
    contact, seq = written.contact, written.contact.seq + len(written.events)
    if _never_confirmed(svc, tenant_id, contact_id):
        for _ in range(3):
            if shred(svc, tenant_id, contact, seq, at=now, reason="expired", forget_addresses=True):
                delete_contact_files(svc, tenant_id, contact_id, reason="expiry")
                return "shredded"
            try:
                contact = ledger.load(contact_id)
            except ContactNotFound:
                return "expired"
            seq = contact.seq
            if not _never_confirmed(svc, tenant_id, contact_id):
                break
    return "expired"


def _never_confirmed(svc: Services, tenant_id: str, contact_id: str) -> bool:
    """Whether every event of the contact is a pending request or its expiry: nothing was ever granted."""
    events = rights_repo(svc).query(contact_pk(tenant_id, contact_id), prefix=EVENT)
    return all(
        e.get("type") == EventType.EXPIRE.value
        or (e.get("type") == EventType.GRANT.value and e.get("status") == ConsentStatus.PENDING.value)
        for e in events
    )
