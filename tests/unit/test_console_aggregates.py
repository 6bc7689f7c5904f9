"""The dashboard's counters and charts: pure rules, no sockets."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from samtykke.console import aggregates, charts
from samtykke.console.messages import LOCALES, TEXTS, console_messages

pytestmark = pytest.mark.unit

NOON = datetime(2026, 3, 31, 12, tzinfo=UTC)


def event(type_: str, status: str, purpose: str = "news", channel: str = "email") -> dict[str, str]:
    return {"type": type_, "status": status, "purpose": purpose, "channel": channel}


def test_a_write_tallies_each_event_by_purpose_channel_and_metric() -> None:
    tally = aggregates.tally(
        "acme",
        "con_1",
        [event("grant", "pending"), event("grant", "granted", channel="sms"), event("confirm", "granted")],
        NOON,
    )
    assert tally is not None
    assert tally.pk == "T#acme#AGG#2026-03"
    assert re.fullmatch(r"DAY#2026-03-31#\d\d", tally.sk)
    assert tally.counts == {"news|email|pending": 1, "news|sms|granted": 1, "news|email|confirmed": 1}


def test_withdrawals_erasures_and_expiries_count_as_withdrawn_and_basis_changes_not_at_all() -> None:
    events = [event("withdraw", "withdrawn"), event("erase", "withdrawn"), event("expire", "withdrawn")]
    tally = aggregates.tally("acme", "con_1", events, NOON)
    assert tally is not None
    assert tally.counts == {"news|email|withdrawn": 3}
    assert aggregates.tally("acme", "con_1", [], NOON) is None


def test_a_batch_is_one_counter_item_per_day() -> None:
    first = aggregates.tally("acme", "con_a", [event("import", "granted")], NOON)
    second = aggregates.tally("acme", "con_b", [event("import", "granted"), event("grant", "pending")], NOON)
    next_day = aggregates.tally("acme", "con_c", [event("import", "granted")], datetime(2026, 4, 1, tzinfo=UTC))
    combined = aggregates.combine([first, None, second, next_day])
    assert [(t.pk, t.counts) for t in combined] == [
        ("T#acme#AGG#2026-03", {"news|email|granted": 2, "news|email|pending": 1}),
        ("T#acme#AGG#2026-04", {"news|email|granted": 1}),
    ]
    assert first is not None
    assert combined[0].sk == first.sk


def test_shards_spread_contacts_and_fold_sums_them_per_day() -> None:
    assert len({aggregates.shard_of(f"con_{i}") for i in range(500)}) == aggregates.SHARDS
    days = aggregates.window(date(2026, 4, 1), 3)
    assert days == ["2026-03-30", "2026-03-31", "2026-04-01"]
    items = [
        {"pk": "x", "sk": "DAY#2026-03-31#01", "news|email|granted": 2},
        {"pk": "x", "sk": "DAY#2026-03-31#07", "news|email|granted": 3, "news|sms|withdrawn": 1},
        {"pk": "x", "sk": "DAY#2026-01-01#07", "news|email|granted": 99},  # outside the window
    ]
    counts = aggregates.fold(items, days)
    assert counts.total("granted") == [0, 5, 0]
    assert counts.total("withdrawn", channel="sms") == [0, 1, 0]
    assert counts.pairs() == [("news", "email"), ("news", "sms")]
    assert aggregates.months_of(days) == ["2026-03", "2026-04"]


def test_a_bar_chart_is_an_accessible_svg_with_bars_proportional_to_the_values() -> None:
    svg = charts.horizontal_bars("Reach", "Included: 30; Withdrawn: 10", [charts.Bar("In", 30), charts.Bar("Out", 10)])
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" role="img"')
    assert "<title>Reach</title>" in svg
    widths = [int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', svg)]
    assert abs(widths[0] - 3 * widths[1]) <= 1  # rounded to whole pixels
    assert "style=" not in svg  # a strict CSP allows presentation attributes, not inline style


def test_labels_are_escaped() -> None:
    svg = charts.horizontal_bars("<b>", "d", [charts.Bar("<script>", 1)])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_rate_bars_mark_a_rate_over_the_upper_limit_and_draw_both_limits() -> None:
    svg = charts.rate_bars("Complaints", "d", [("ok", 0.0005), ("bad", 0.004)], (0.001, 0.003))
    fills = re.findall(r'<rect [^>]*fill="(#[0-9a-f]+)"', svg)
    assert fills == [charts.PALETTE[0], charts.PALETTE[1]]
    assert "0.1%" in svg
    assert "0.3%" in svg


def test_every_console_text_exists_in_all_six_locales() -> None:
    assert LOCALES == ("en", "da", "sv", "nb", "nl", "de")
    assert [key for key, texts in TEXTS.items() if not all(texts)] == []
    assert console_messages("da")["logout"] == "Log ud"
    assert console_messages("xx")["logout"] == "Log out"


def test_an_unsubscribe_through_a_campaign_link_counts_once_for_that_campaign() -> None:
    note = '{"via":"one_click","scope":"all","message_ref":"cmp_01abc"}'
    events = [event("withdraw", "withdrawn"), event("withdraw", "withdrawn", channel="sms")]
    tally = aggregates.tally("acme", "con_1", events, NOON, note)
    assert tally is not None
    assert tally.counts["#campaign|cmp_01abc|unsubscribed"] == 1
    counts = aggregates.fold([{"sk": tally.sk, **tally.counts}], ["2026-03-31"])
    assert counts.unsubscribes("cmp_01abc") == 1
    assert counts.pairs() == [("news", "email"), ("news", "sms")]
    # A link sent outside a campaign, a grant, or a note that is not JSON names no campaign
    assert aggregates.campaign_of('{"message_ref":"admin"}') is None
    assert aggregates.campaign_of("typed by staff") is None
    granted = aggregates.tally("acme", "con_1", [event("grant", "granted")], NOON, note)
    assert granted is not None
    assert "#campaign|cmp_01abc|unsubscribed" not in granted.counts
