"""Counting the dashboard's daily counters again from the consent log: for a deployment that existed before the
counters (`console/aggregates.py`), or whose counters drifted. Run by the operator: `samtykke tenant backfill-counters`.

How the recount is made: one Scan of the table (with the operator's credentials: no function is granted Scan)
reads the tenant's consent events of those days, erased contacts' included (their events stay). Not the
`directory` index: contacts written before it existed are not listed there. The events are grouped into the
writes that made them (one write's events share their contact and their time `at`) and each write is tallied by
the write path's own `aggregates.tally`, on the day of its time. The counter items of those days are read as the
dashboard reads them, summed over the shards, and the difference is ADDed to one item of the day (shard 0):
afterwards each day sums to its recount.

Concurrent writes: a write counts on the day its own clock gave it when it built its transaction, and commits
within the few seconds after (a Lambda runs for 15 minutes at most). The backfill recounts only CLOSED days, those
that ended more than `SETTLE` before it started, so no write can land on a day while that day is being recounted,
and traffic goes on as usual on today's counters. Today is recounted by a run after it has closed. The correction
is an ADD of the difference, not a SET of the recount: were a write to land on a closed day all the same (a clock
far off), its own increment would still count, on top of the correction.

Idempotent: a second run finds every day equal to its recount and writes nothing; a run that stopped halfway is
finished by the next. Each correction carries the run's id and is conditioned on not finding it, so a retried
update whose first attempt committed without an answer is not added twice.

Per-campaign unsubscribes (`#campaign|{campaign}|unsubscribed`): the campaign is named only in the sealed evidence of
a withdrawal, which erasure shreds, so a recount may find fewer than happened but never more. Those counts are
only raised to the recount, never lowered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.repository import PROFILE, contact_pk
from samtykke.console import aggregates
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import InvalidInput
from samtykke.services import audit
from samtykke.services.audit import AuditActor
from samtykke.services.context import Services
from samtykke.services.ledger import new_id, open_evidence

SETTLE = timedelta(minutes=15)
CORRECTION_SHARD = 0
DayCounts = dict[str, dict[str, int]]  # day -> counter name -> count


@dataclass(frozen=True)
class BackfillReport:
    tenant_id: str
    run_id: str
    since: str  # the first day recounted
    through: str  # the last
    contacts: int = 0  # with an event on those days
    events: int = 0
    days_corrected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def last_closed_day(now: datetime) -> date:
    """The newest day on which no write can still commit."""
    return (now - SETTLE).date() - timedelta(days=1)


def backfill(svc: Services, actor: AuditActor, *, since: date) -> BackfillReport:
    """Recounts the closed days from `since` on and corrects the counters, audited as `operator.counters_backfilled`."""
    tenant_id = actor.tenant_id
    through = last_closed_day(svc.clock())
    if since > through:
        raise InvalidInput(f"No closed day from {since} on: the newest is {through}", code="no_closed_day")
    run_id = new_id("bfl")
    days = [(since + timedelta(days=i)).isoformat() for i in range((through - since).days + 1)]
    recount, contacts, events = _recount(svc, tenant_id, days)
    current = _counted(svc, tenant_id, days)
    corrected = []
    for day in days:
        difference = _difference(recount.get(day, {}), current.get(day, {}))
        if difference:
            pk, sk = aggregates.aggregate_pk(tenant_id, day[:7]), aggregates.day_sk(day, CORRECTION_SHARD)
            svc.repo.correct_counters(aggregates.Tally(pk, sk, difference), run_id)
            corrected.append(day)
    report = BackfillReport(tenant_id, run_id, days[0], days[-1], contacts, events, corrected)
    details = {"run_id": run_id, "since": days[0], "through": days[-1], "days_corrected": len(corrected)}
    audit.record(svc, actor, AuditAction.OPERATOR_COUNTERS_BACKFILLED, ("tenant", tenant_id), None, details)
    return report


def _recount(svc: Services, tenant_id: str, days: list[str]) -> tuple[DayCounts, int, int]:
    """Each day's counts as the write path made them, from the tenant's events on those days."""
    until = (date.fromisoformat(days[-1]) + timedelta(days=1)).isoformat()
    writes: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)  # (contact, at) -> one write's events
    for event in svc.repo.scan_events(tenant_id, days[0], until):
        writes[(str(event["contact_id"]), str(event["at"]))].append(event)
    keys = svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)
    counts: DayCounts = defaultdict(lambda: defaultdict(int))
    for (contact_id, at), written in writes.items():
        note = _note(svc, keys, contact_id, written)
        tally = aggregates.tally(tenant_id, contact_id, written, datetime.fromisoformat(at), note)
        for name, count in (tally.counts if tally else {}).items():
            counts[at[:10]][name] += count
    contacts = len({contact_id for contact_id, _ in writes})
    return counts, contacts, sum(len(written) for written in writes.values())


def _note(svc: Services, keys: TenantKeys, contact_id: str, written: list[dict[str, Any]]) -> str | None:
    """A withdrawal's evidence note (it may name the campaign whose link it came through); None once erased."""
    if not any(event.get("type") == "withdraw" for event in written):
        return None  # only a withdrawal counts for a campaign: nothing to open
    profile = svc.repo.get(contact_pk(keys.tenant_id, contact_id), PROFILE)
    if profile is None or not profile.get("wrapped_key"):
        return None
    box = keys.contact_box(contact_id, profile["wrapped_key"])
    evidence = open_evidence(box, written[0]["event_id"], written[0].get("evidence"))
    return evidence.note if evidence else None


def _counted(svc: Services, tenant_id: str, days: list[str]) -> DayCounts:
    """What the counters hold for each day, summed over its shards, as the dashboard reads them."""
    items = [
        item
        for month in aggregates.months_of(days)
        for item in svc.repo.query_partition(aggregates.aggregate_pk(tenant_id, month))
    ]
    folded = aggregates.fold(items, days)
    counted: DayCounts = defaultdict(dict)
    for (purpose, channel, metric), values in folded.series.items():
        name = aggregates.SEPARATOR.join((purpose, channel, metric))
        for day, value in zip(days, values, strict=True):
            if value:
                counted[day][name] = value
    return counted


def _difference(recount: dict[str, int], counted: dict[str, int]) -> dict[str, int]:
    """What to add so that the day sums to its recount; a campaign's unsubscribes are only ever raised."""
    difference = {}
    for name in recount.keys() | counted.keys():
        delta = recount.get(name, 0) - counted.get(name, 0)
        if name.startswith(aggregates.CAMPAIGN + aggregates.SEPARATOR):
            delta = max(delta, 0)
        if delta:
            difference[name] = delta
    return dict(sorted(difference.items()))
