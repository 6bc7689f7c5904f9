"""What the console's pages show, gathered from the services (never over HTTP) and shaped to the reader's role."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from typing import Any

from samtykke.api.shaping import shaping_for
from samtykke.console import aggregates, charts
from samtykke.domain.access import Permission, Principal
from samtykke.domain.consent import ARTICLE_6_BASES
from samtykke.domain.masking import REDACTED, shape
from samtykke.domain.uploads import OwnerKind
from samtykke.models.campaign import DryRunReport
from samtykke.models.staff_consent import StaffConsentAction, StaffSource
from samtykke.services import campaigns, contacts, evidence
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services

DASHBOARD_DAYS = 90
# Mailbox providers' complaint-rate limits for bulk senders (Gmail and Yahoo, 2024): stay under 0.1 %, never 0.3 %.
COMPLAINT_THRESHOLDS = (0.001, 0.003)
RECORD_SEPARATOR = ":"  # between the purpose and the channel in the record form's one choice (neither holds it)


def find_contact(svc: Services, tenant_id: str, query: str) -> str:
    """A contact id from what staff typed: an email, a phone number, or a contact id."""
    query = query.strip()
    if query.startswith("con_"):
        contacts.require_contact(svc, tenant_id, query)
        return query
    if "@" in query:
        return contacts.find_contact_id(svc, tenant_id, email=query, phone=None)
    return contacts.find_contact_id(svc, tenant_id, email=None, phone=query)


@dataclass(frozen=True)
class Timeline:
    summary: dict[str, Any]
    has_national_id: bool
    chain_intact: bool
    events: list[dict[str, Any]]
    files: dict[str, list[dict[str, Any]]]  # event id -> its evidence files


def timeline(svc: Services, principal: Principal, contact_id: str) -> Timeline:
    """The person's profile and every event, shaped for the reader: national ID always held back for a reveal."""
    tenant_id = principal.tenant_id
    summary = contacts.contact_summary(svc, tenant_id, contact_id).model_dump(mode="json")
    has_national_id = bool(summary.get("national_id"))
    summary["national_id"] = REDACTED if has_national_id else None
    log = contacts.consent_log(svc, tenant_id, contact_id)
    shaping = shaping_for(principal)
    events = [shape(event.model_dump(mode="json"), shaping) for event in reversed(log.events)]
    files: dict[str, list[dict[str, Any]]] = {}
    if principal.may(Permission.EVIDENCE_READ):
        for item in evidence.files_of(svc, tenant_id, OwnerKind.CONTACT, contact_id):
            view = evidence.file_view(item).model_dump(mode="json")
            files.setdefault(view["file_id"].split("/", 1)[0], []).append(view)
    return Timeline(shape(summary, shaping), has_national_id, log.chain_intact, events, files)


@dataclass(frozen=True)
class RecordChoices:
    """The "record on the person's behalf" form's choices: each active purpose's channels, how they told us, bases."""

    consents: list[tuple[str, str]]  # (form value, label)
    actions: tuple[str, ...] = tuple(action.value for action in StaffConsentAction)
    sources: tuple[str, ...] = tuple(source.value for source in StaffSource)
    bases: tuple[str, ...] = tuple(basis.value for basis in ARTICLE_6_BASES)


def record_choices(catalog: TenantCatalog, locale: str) -> RecordChoices:
    consents = [
        (f"{purpose.purpose_id}{RECORD_SEPARATOR}{channel.value}",
         f"{purpose.names.get(locale) or purpose.purpose_id} · {channel.value}")
        for purpose in sorted(catalog.purposes.values(), key=lambda p: p.purpose_id)
        if purpose.active
        for channel in purpose.channels
    ]  # fmt: skip
    return RecordChoices(consents)


def text_of(catalog: TenantCatalog, ref: dict[str, Any] | None) -> str | None:
    if not ref:
        return None
    text = catalog.text(ref["purpose_id"], ref["locale"], ref["version"])
    return text.text if text else None


def text_diff(old: str, new: str) -> list[tuple[str, str]]:
    """A word-level diff of two consent texts: (`same` | `removed` | `added`, words)."""
    a, b = old.split(), new.split()
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("removed", " ".join(a[i1:i2])))
        if j2 > j1:
            parts.append(("added", " ".join(b[j1:j2])))
    return parts


def dry_run_chart(report: DryRunReport, t: dict[str, str]) -> tuple[str, list[tuple[str, int]]]:
    """The dry run as a bar chart (included, then each exclusion reason, largest first) and its table rows."""
    rows = [(t["dry_included"], report.included)]
    rows += [
        (t.get(f"reason_{reason}", reason.replace("_", " ")), count)
        for reason, count in sorted(report.excluded_by_reason.items(), key=lambda kv: -kv[1])
    ]
    bars = [
        charts.Bar(label, value, charts.PALETTE[0] if i == 0 else charts.PALETTE[1])
        for i, (label, value) in enumerate(rows)
    ]
    description = "; ".join(f"{label}: {value}" for label, value in rows)
    return charts.horizontal_bars(t["dry_chart_title"], description, bars), rows


@dataclass(frozen=True)
class Dashboard:
    counts: aggregates.DailyCounts
    trend_svg: str
    trend: dict[str, list[int]]  # the chart's series (filtered), label -> one count per day
    conversion: float | None
    confirmed: int
    asked: int
    by_purpose: list[tuple[str, str, dict[str, int]]]  # purpose, channel, metric -> 90-day total
    campaign_rows: list[dict[str, Any]]
    complaints_svg: str | None


def campaign_rates(svc: Services, tenant_id: str, counts: aggregates.DailyCounts) -> list[dict[str, Any]]:
    """The newest campaigns' complaint and unsubscribe rates: counters on each campaign, and the daily tallies."""
    rows = []
    for campaign in campaigns.list_campaigns(
        svc, tenant_id, limit=50, cursor=None, purpose=None, channel=None
    ).campaigns:
        sent = campaign.counts.sent
        unsubscribed = counts.unsubscribes(campaign.campaign_id)
        rows.append(
            {
                "campaign_id": campaign.campaign_id,
                "name": campaign.name,
                "sent": sent,
                "complaints": campaign.counts.complaints,
                "bounced": campaign.counts.bounced,
                "unsubscribed": unsubscribed,
                "complaint_rate": campaign.counts.complaints / sent if sent else 0.0,
                "unsubscribe_rate": unsubscribed / sent if sent else 0.0,
            }
        )
    return rows


def dashboard(
    svc: Services,
    tenant_id: str,
    today: date,
    t: dict[str, str],
    *,
    purpose: str | None = None,
    channel: str | None = None,
) -> Dashboard:
    """The 90-day dashboard; the trend chart for one purpose and/or channel when they are given."""
    days = aggregates.window(today, DASHBOARD_DAYS)
    items: list[dict[str, Any]] = []
    for month in aggregates.months_of(days):
        items += svc.repo.query_partition(aggregates.aggregate_pk(tenant_id, month))
    counts = aggregates.fold(items, days)
    series = [
        charts.Series(t[f"metric_{metric}"], counts.total(metric, purpose, channel), charts.PALETTE[i])
        for i, metric in enumerate(aggregates.METRICS)
    ]
    summary = "; ".join(f"{s.label}: {sum(s.values)}" for s in series)
    svg = charts.daily_lines(t["dash_trend_title"], summary, days, series)
    confirmed, asked = sum(counts.total("confirmed", purpose, channel)), sum(counts.total("pending", purpose, channel))
    by_purpose = [
        (purpose, channel, {m: sum(counts.total(m, purpose, channel)) for m in aggregates.METRICS})
        for purpose, channel in counts.pairs()
    ]
    rows = campaign_rates(svc, tenant_id, counts)
    complaints = complaint_chart(rows, t) if any(row["sent"] for row in rows) else None
    trend = {s.label: list(s.values) for s in series}
    conversion = confirmed / asked if asked else None
    return Dashboard(counts, svg, trend, conversion, confirmed, asked, by_purpose, rows, complaints)


def complaint_chart(campaign_rows: list[dict[str, Any]], t: dict[str, str]) -> str:
    rows = [(row["name"], row["complaint_rate"]) for row in campaign_rows if row["sent"]]
    description = "; ".join(f"{name}: {rate:.2%}" for name, rate in rows) or t["none"]
    return charts.rate_bars(t["dash_complaints_title"], description, rows, COMPLAINT_THRESHOLDS)
