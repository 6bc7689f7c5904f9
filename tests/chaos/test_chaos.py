"""The chaos scenarios at CI size: faults on every AWS call, SQS redelivering what is still running.

`make chaos` runs the same scenarios at the issue's sizes (tests/chaos/run.py) and prints the figures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.harness import Chaos, broken_chains, chaotic_stack
from tests.chaos.scenarios import campaign_with_withdrawals, concurrent_unsubscribes, lawful_import, signed_stops

pytestmark = pytest.mark.chaos


@pytest.fixture(scope="module")
def chaos() -> Iterator[Chaos]:
    with chaotic_stack() as running:
        yield running


def test_a_campaign_with_withdrawals_during_the_send_reaches_each_eligible_recipient_once(chaos: Chaos) -> None:
    finding = campaign_with_withdrawals(chaos, size=150, withdrawals=15)
    assert finding.clean(), finding
    assert finding.messages > 0


def test_concurrent_one_click_unsubscribes_all_take_effect_once(chaos: Chaos) -> None:
    finding = concurrent_unsubscribes(chaos, size=60)
    assert finding.clean(), finding


def test_concurrent_signed_stops_all_take_effect_once(chaos: Chaos) -> None:
    finding = signed_stops(chaos, size=60)
    assert finding.clean(), finding


def test_an_import_finishes_with_its_true_counts(chaos: Chaos) -> None:
    finding = lawful_import(chaos, size=300)
    assert finding.clean(), finding


def test_every_consent_log_verifies_and_faults_were_injected(chaos: Chaos) -> None:
    assert broken_chains(chaos) == []
    summary = chaos.proxy.stats.summary()
    assert {"lost_reply", "error_500", "throttle", "reset"} <= set(summary["faults"]), summary
    provider = {f"sesv2:SendBulkEmail {fault}" for fault in ("throttle", "lost_reply", "error_500")}
    assert provider <= set(summary["by_operation"]), summary  # the provider too
