"""Daily consent counters for the dashboard, kept current by the write path itself: never a table scan.

Every consent write (`services/ledger.py`) carries one tally: an `ADD` to a counter item in the SAME transaction
as its events, so a count can neither be lost nor double-counted (a retried or redelivered write either commits
with its tally or not at all).

    pk = T#{tenant}#AGG#{yyyy-mm}      sk = DAY#{yyyy-mm-dd}#{shard:02d}
    attributes "{purpose}|{channel}|{metric}" = count

Writers are spread over `SHARDS` items a day (by contact id), so concurrent consents of different people rarely
touch the same counter; a bulk import's transaction adds its whole batch to one item per day. The dashboard reads
90 days as three or four Queries (one per month partition) and sums the shards.

Metrics, from each event's type and resulting status: `granted` (a grant or re-affirmation that is in force),
`pending` (a double opt-in asked for, or a minor awaiting a parent), `confirmed` (a double opt-in confirmed),
`withdrawn` (a withdrawal, an erasure or an expired double opt-in). A write made through a campaign's unsubscribe
link (its evidence note names the campaign as `message_ref`) also counts `#campaign|{campaign}|unsubscribed` once,
for the per-campaign unsubscribe rate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

SHARDS = 32
METRICS = ("granted", "pending", "confirmed", "withdrawn")
SEPARATOR = "|"
CAMPAIGN = "#campaign"  # never a purpose id: those are slugs
CAMPAIGN_PREFIX = "cmp_"


def aggregate_pk(tenant_id: str, month: str) -> str:
    return f"T#{tenant_id}#AGG#{month}"


def day_sk(day: str, shard: int) -> str:
    return f"DAY#{day}#{shard:02d}"


def shard_of(contact_id: str) -> int:
    return int.from_bytes(hashlib.sha256(contact_id.encode()).digest()[:4], "big") % SHARDS


def metric_of(event_type: str, status: str) -> str | None:
    if event_type == "confirm":
        return "confirmed"
    if status == "granted":
        return "granted"
    if status in ("pending", "pending_parental"):
        return "pending"
    if status == "withdrawn":
        return "withdrawn"
    return None


@dataclass
class Tally:
    """The counter increments of one write (or of one bulk transaction): one item, several attributes."""

    pk: str
    sk: str
    counts: dict[str, int] = field(default_factory=dict)


def campaign_of(note: str | None) -> str | None:
    """The campaign a link-made change came through (`domain/links.evidence_note`'s `message_ref`), if any."""
    if not note or not note.startswith("{"):
        return None
    try:
        ref = json.loads(note).get("message_ref")
    except (ValueError, AttributeError):
        return None
    return ref if isinstance(ref, str) and ref.startswith(CAMPAIGN_PREFIX) else None


def tally(
    tenant_id: str, contact_id: str, events: Iterable[Mapping[str, Any]], now: datetime, note: str | None = None
) -> Tally | None:
    """The tally of a contact write's event records (and of its evidence note), or None when nothing counts."""
    day = now.date().isoformat()
    result = Tally(aggregate_pk(tenant_id, day[:7]), day_sk(day, shard_of(contact_id)))
    withdrew = False
    for event in events:
        metric = metric_of(str(event.get("type")), str(event.get("status")))
        if metric is not None:
            name = SEPARATOR.join((str(event["purpose"]), str(event["channel"]), metric))
            result.counts[name] = result.counts.get(name, 0) + 1
            withdrew = withdrew or event.get("type") == "withdraw"
    campaign = campaign_of(note) if withdrew else None
    if campaign is not None:
        result.counts[SEPARATOR.join((CAMPAIGN, campaign, "unsubscribed"))] = 1
    return result if result.counts else None


def combine(tallies: Iterable[Tally | None]) -> list[Tally]:
    """Several writes' tallies as one per day (a transaction may touch an item only once): the first's shard."""
    by_day: dict[tuple[str, str], Tally] = {}
    for one in tallies:
        if one is None:
            continue
        day = one.sk.rsplit("#", 1)[0]
        merged = by_day.setdefault((one.pk, day), Tally(one.pk, one.sk))
        for name, count in one.counts.items():
            merged.counts[name] = merged.counts.get(name, 0) + count
    return list(by_day.values())


# --- the read side -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyCounts:
    days: list[str]  # oldest first, every day of the window
    # (purpose, channel, metric) -> one count per day, aligned with `days`
    series: dict[tuple[str, str, str], list[int]]

    def total(self, metric: str, purpose: str | None = None, channel: str | None = None) -> list[int]:
        totals = [0] * len(self.days)
        for (p, c, m), values in self.series.items():
            if m == metric and purpose in (None, p) and channel in (None, c):
                totals = [a + b for a, b in zip(totals, values, strict=True)]
        return totals

    def pairs(self) -> list[tuple[str, str]]:
        """Every (purpose, channel) with a count."""
        return sorted({(p, c) for p, c, _ in self.series if p != CAMPAIGN})

    def unsubscribes(self, campaign_id: str) -> int:
        return sum(self.series.get((CAMPAIGN, campaign_id, "unsubscribed"), []))


def window(today: date, days: int) -> list[str]:
    return [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]


def fold(items: Iterable[Mapping[str, Any]], days: list[str]) -> DailyCounts:
    """Counter items (any shards, any months) summed into daily series over `days`."""
    position = {day: i for i, day in enumerate(days)}
    series: dict[tuple[str, str, str], list[int]] = {}
    for item in items:
        day = str(item["sk"]).split("#")[1]
        if day not in position:
            continue
        for name, value in item.items():
            parts = name.split(SEPARATOR)
            if len(parts) != 3:
                continue
            key = (parts[0], parts[1], parts[2])
            series.setdefault(key, [0] * len(days))[position[day]] += int(value)
    return DailyCounts(days, series)


def months_of(days: list[str]) -> list[str]:
    return sorted({day[:7] for day in days})
