"""The dashboard's daily counters move in the same transactions as the consent log, on moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from samtykke.adapters.aws import dynamodb
from samtykke.adapters.repository import to_attributes
from samtykke.console import aggregates, views
from samtykke.console.messages import console_messages
from samtykke.domain.access import Principal, Role
from samtykke.services import dashboard_counters, erasure
from samtykke.services.audit import AuditActor
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.test_consent_capture import confirmation_link
from tests.integration.test_unsubscribe import admin_links, page_event, signup, token_of

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


def test_capture_and_confirmation_move_the_dashboard_counters(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    # Given a form post (e-marketing waits for double opt-in; sales-and-service is granted at once)
    assert invoke("consent_capture", api_event("consent_capture_form"))["statusCode"] == 303
    t = console_messages("en")
    board = views.dashboard(svc, tenant.tenant_id, svc.clock().date(), t)
    totals = {(p, c): n for p, c, n in board.by_purpose}
    assert totals[("e-marketing", "email")]["pending"] == 1
    assert totals[("sales-and-service", "email")]["granted"] == 1
    assert board.conversion == 0

    # When the person confirms
    token = confirmation_link("anna@example.dk")
    invoke(
        "consent_capture",
        api_event("confirm_post", path=f"/v1/public/confirm/{token}", path_parameters={"token": token}),
    )

    # Then today's counters show the confirmation, and the double opt-in conversion is complete
    board = views.dashboard(svc, tenant.tenant_id, svc.clock().date(), t)
    totals = {(p, c): n for p, c, n in board.by_purpose}
    assert totals[("e-marketing", "email")]["confirmed"] == 1
    assert board.counts.total("granted")[-1] == 1  # the confirmation counts as confirmed, not as a new grant
    assert board.conversion == 1.0
    assert "<svg" in board.trend_svg

    # And the trend can be narrowed to one purpose
    only = views.dashboard(svc, tenant.tenant_id, svc.clock().date(), t, purpose="sales-and-service")
    assert sum(only.trend[t["metric_granted"]]) == 1
    assert sum(only.trend[t["metric_confirmed"]]) == 0


# --- the backfill ----------------------------------------------------------------------------------------------

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OPERATOR = AuditActor("acme", "operator", "ops@acme.example")


def _figures(svc: Services, tenant_id: str, today: date) -> dict[str, Any]:
    """Everything the dashboard shows that the counters make."""
    t = console_messages("en")
    board = views.dashboard(svc, tenant_id, today, t)
    unsubscribed = {row["campaign_id"]: row["unsubscribed"] for row in board.campaign_rows}
    return {
        "trend": board.trend,
        "by_purpose": board.by_purpose,
        "conversion": (board.confirmed, board.asked),
        "unsubscribed": unsubscribed | {"cmp_spring": board.counts.unsubscribes("cmp_spring")},
    }


def _counter_items(svc: Services, tenant_id: str, months: list[str]) -> list[dict[str, Any]]:
    return [item for month in months for item in svc.repo.query_partition(aggregates.aggregate_pk(tenant_id, month))]


def _delete_counters(svc: Services, tenant_id: str, months: list[str]) -> None:
    for item in _counter_items(svc, tenant_id, months):
        key = to_attributes({"pk": item["pk"], "sk": item["sk"]})
        dynamodb().delete_item(TableName=svc.repo.table_name, Key=key)


def _history(
    svc: Services, tenant: TenantFixture, invoke: Invoke, api_event: Callable[..., dict[str, Any]]
) -> tuple[str, str]:
    """Three days of consents: sign-ups (a double opt-in confirmed), an unsubscribe by a campaign's link, an erasure."""
    svc.clock = lambda: START
    anna = signup(
        invoke, api_event, {"email": "anna@example.dk", "purpose": ["e-marketing", "sales-and-service"], "locale": "da"}
    )
    bo = signup(invoke, api_event, {"email": "bo@example.dk", "purpose": ["sales-and-service"], "locale": "da"})
    svc.clock = lambda: START + timedelta(days=1)
    token = token_of(admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"])
    assert invoke("unsubscribe", page_event(api_event, "unsubscribe_post_form", "u", token))["statusCode"] == 200
    svc.clock = lambda: START + timedelta(days=2)
    erasure.erase_contact(svc, Principal(tenant.tenant_id, tenant.key_id, "api_key", Role.ADMIN), bo, ip=None)
    return anna, bo


def test_the_backfill_recounts_deleted_counters_into_the_same_dashboard_and_a_rerun_changes_nothing(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    anna, bo = _history(svc, tenant, invoke, api_event)
    svc.clock = lambda: START + timedelta(days=3)
    today = svc.clock().date()
    months = aggregates.months_of(aggregates.window(today, views.DASHBOARD_DAYS))
    shown = _figures(svc, tenant.tenant_id, today)
    assert shown["unsubscribed"]["cmp_spring"] == 1
    assert sum(shown["trend"]["Withdrawn"]) == 2  # Anna's e-marketing, and Bo's erasure

    # Given a deployment whose counters are gone, and whose contacts predate the directory index too
    _delete_counters(svc, tenant.tenant_id, months)
    for contact_id in (anna, bo):
        key = to_attributes({"pk": f"T#acme#C#{contact_id}", "sk": "PROFILE"})
        dynamodb().update_item(TableName=svc.repo.table_name, Key=key, UpdateExpression="REMOVE gsi3pk, gsi3sk")
    assert _figures(svc, tenant.tenant_id, today) != shown

    # When the operator runs the backfill
    report = dashboard_counters.backfill(svc, OPERATOR, since=today - timedelta(days=89))

    # Then the dashboard shows the same figures as before, the campaign's unsubscribe included
    assert _figures(svc, tenant.tenant_id, today) == shown
    assert report.days_corrected == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert (report.through, report.contacts) == ("2026-11-22", 2)  # the erased contact's events still count

    # And a second run finds nothing to correct, and writes nothing
    items = _counter_items(svc, tenant.tenant_id, months)
    again = dashboard_counters.backfill(svc, OPERATOR, since=today - timedelta(days=89))
    assert again.days_corrected == []
    assert _counter_items(svc, tenant.tenant_id, months) == items

    # And each run is in the tenant's audit log with the operator's name
    from samtykke.services import audit

    entries, _ = audit.query(svc, tenant.tenant_id, today.strftime("%Y-%m"), action="operator.counters_backfilled")
    assert [(e["actor"]["type"], e["actor"]["id"]) for e in entries] == [("operator", "ops@acme.example")] * 2


def test_the_backfill_lowers_a_drifted_day_and_leaves_today_to_the_write_path(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    _history(svc, tenant, invoke, api_event)
    # Given a counter that drifted upwards on a closed day, and a sign-up today that the write path counts
    svc.clock = lambda: START + timedelta(days=3)
    today = svc.clock().date()
    shown = _figures(svc, tenant.tenant_id, today)
    drift = aggregates.Tally(aggregates.aggregate_pk("acme", "2026-11"), aggregates.day_sk("2026-11-20", 7))
    drift.counts["sales-and-service|email|granted"] = 5
    svc.repo.correct_counters(drift, "drift")
    assert _figures(svc, tenant.tenant_id, today) != shown
    signup(invoke, api_event, {"email": "carl@example.dk", "purpose": ["sales-and-service"], "locale": "da"})
    granted_today = _figures(svc, tenant.tenant_id, today)["trend"]["Granted"][-1]
    assert granted_today == 1

    # When the backfill runs
    report = dashboard_counters.backfill(svc, OPERATOR, since=date(2026, 11, 1))

    # Then the drifted day is back to its recount, and today (still open) is neither recounted nor counted twice
    assert report.days_corrected == ["2026-11-20"]
    assert report.through == (today - timedelta(days=1)).isoformat()
    after = _figures(svc, tenant.tenant_id, today)
    assert after["trend"]["Granted"][:-1] == shown["trend"]["Granted"][:-1]
    assert after["trend"]["Granted"][-1] == 1


def test_a_correction_retried_after_it_committed_is_added_once(svc: Services, tenant: TenantFixture) -> None:
    pk, sk = aggregates.aggregate_pk("acme", "2026-11"), aggregates.day_sk("2026-11-20", 0)
    correction = aggregates.Tally(pk, sk, {"news|email|granted": 3, "news|email|withdrawn": -1})
    svc.repo.correct_counters(correction, "bfl_1")
    svc.repo.correct_counters(correction, "bfl_1")  # the same call again: its answer was lost
    assert {k: v for k, v in (svc.repo.get(pk, sk) or {}).items() if "|" in k} == {
        "news|email|granted": 3,
        "news|email|withdrawn": -1,
    }
    svc.repo.correct_counters(correction, "bfl_2")  # another run adds its own
    assert (svc.repo.get(pk, sk) or {})["news|email|granted"] == 6


def test_a_backfill_with_no_closed_day_is_refused(svc: Services, tenant: TenantFixture) -> None:
    from samtykke.domain.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        dashboard_counters.backfill(svc, OPERATOR, since=svc.clock().date())
    assert refused.value.code == "no_closed_day"


def test_the_cli_runs_the_backfill_on_the_deployments_table_with_the_operators_name(
    aws: Any,
    svc: Services,
    tenant: TenantFixture,
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from samtykke.cli import main as samtykke_cli

    _history(svc, tenant, invoke, api_event)
    svc.clock = lambda: START + timedelta(days=3)
    today = svc.clock().date()
    shown = _figures(svc, tenant.tenant_id, today)
    _delete_counters(svc, tenant.tenant_id, aggregates.months_of(aggregates.window(today, views.DASHBOARD_DAYS)))
    stack = tmp_path / "local.json"
    resources = {"table": aws.table_name, "kms_key_arn": aws.kms_key_arn}
    stack.write_text(json.dumps({"api_url": "http://127.0.0.1:3000", "region": aws.region, "resources": resources}))

    code = samtykke_cli(
        ["tenant", "backfill-counters", "acme", "--since", "2026-11-01", "--operator", "ops", "--local", str(stack)]
    )

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["days_corrected"] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert _figures(svc, tenant.tenant_id, today) == shown
