"""The dashboard's daily counters move in the same transactions as the consent log, on moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from samtykke.console import views
from samtykke.console.messages import console_messages
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.test_consent_capture import confirmation_link

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
