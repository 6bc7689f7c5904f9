"""Campaign email paced to the SES account: its sending rate shared by the senders, and its daily quota.

The local SES answers `GetAccount` with the quota the environment sets (samtykke/local/moto_ses_bulk.py), so each
test sets a small account and watches the bulk calls the sender makes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from samtykke.adapters import aws as clients
from samtykke.local.moto_ses_bulk import MAX_24_HOUR_SEND_ENV, MAX_SEND_RATE_ENV
from samtykke.local.outbox import read_outbox
from samtykke.local.provision import Resources
from samtykke.models.campaign import CampaignCreate
from samtykke.services import campaign_sender
from samtykke.services.context import Services
from tests.integration.campaign_support import Person, QueuePump, body, seed
from tests.integration.conftest import TenantFixture

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fast_transactions")]

EXAMPLE: dict[str, Any] = CampaignCreate.model_config["json_schema_extra"]["example"]  # type: ignore[index]


@pytest.fixture(autouse=True)
def fresh_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sender container that has not read the account yet."""
    from functions.campaign_sender import handler as sender_handler

    monkeypatch.setattr(sender_handler, "_state", {})


@pytest.fixture
def bulk_calls() -> Iterator[list[tuple[float, int]]]:
    """(monotonic time, entries) of every SendBulkEmail call, as the sender makes them."""
    calls: list[tuple[float, int]] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        calls.append((time.monotonic(), len(params["BulkEmailEntries"])))

    ses = clients.sesv2_send_once()
    ses.meta.events.register("before-parameter-build.sesv2.SendBulkEmail", note)
    try:
        yield calls
    finally:
        ses.meta.events.unregister("before-parameter-build.sesv2.SendBulkEmail", note)


def start(admin: Callable[..., dict[str, Any]], pump: QueuePump) -> str:
    created = admin("POST", "/v1/admin/campaigns", json_body={**EXAMPLE, "segment": None})
    assert created["statusCode"] == 201, created["body"]
    campaign_id: str = body(created)["campaign_id"]
    assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202
    pump.step("CampaignDispatchQueue")
    return campaign_id


def emails_by_recipient() -> Counter[str]:
    return Counter(a for m in read_outbox() if m["channel"] == "email" for a in m["to"])


def test_the_sender_keeps_to_the_accounts_sending_rate(
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    bulk_calls: list[tuple[float, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an account that sends 20 messages a second, and 50 subscribers (one chunk)
    monkeypatch.setenv(MAX_SEND_RATE_ENV, "20")
    people = [Person(email=f"rate{i}@example.dk") for i in range(50)]
    seed(svc, tenant.tenant_id, people)
    start(admin, pump)

    # When the sender takes the chunk
    pump.drain()

    # Then it sent one second's worth per call, waiting for each second's tokens: 20, 20, 10, over at least 1.5 s
    assert [n for _, n in bulk_calls] == [20, 20, 10]
    assert bulk_calls[-1][0] - bulk_calls[0][0] >= 1.4
    assert emails_by_recipient() == Counter(p.email for p in people)


def test_a_used_up_daily_quota_puts_the_rest_back_without_spending_receives_and_gives_an_eta(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an account with 25 messages left today, and 40 subscribers (one chunk)
    monkeypatch.setenv(MAX_24_HOUR_SEND_ENV, "25")
    monkeypatch.setattr(campaign_sender, "MAX_DELAY_SECONDS", 1)  # the rest comes back at once, for the test
    people = [Person(email=f"day{i}@example.dk") for i in range(40)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin, pump)

    # When the sender takes the chunk, and then once more when it comes back
    before = datetime.now().astimezone()
    pump.step("CampaignQueue")
    time.sleep(1.1)  # its DelaySeconds
    pump.step("CampaignQueue")

    # Then the quota's 25 went out and no more; the chunk is on the queue again, as a fresh message
    assert sum(emails_by_recipient().values()) == 25
    queue = pump.queue("CampaignQueue")
    time.sleep(1.1)
    messages = pump.sqs.receive_message(QueueUrl=queue.url, MessageSystemAttributeNames=["All"])["Messages"]
    assert len(messages) == 1
    message = messages[0]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert '"deferrals":0' in message["Body"].replace(" ", "")
    pump.sqs.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    # And the campaign, still sending, expects to end when tomorrow's quota has sent the other 15
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["sent"]) == ("sending", 25)
    done_at = datetime.fromisoformat(view["estimated_done_at"])
    assert before + timedelta(hours=23) < done_at < before + timedelta(hours=25)

    # When the next day's quota frees up
    monkeypatch.setenv(MAX_24_HOUR_SEND_ENV, "1000")
    monkeypatch.setattr(campaign_sender, "QUOTA_TTL_SECONDS", 0.0)
    pump.drain()

    # Then everyone got exactly one email and the campaign is done, with no ETA left
    assert emails_by_recipient() == Counter(p.email for p in people)
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["sent"], view["estimated_done_at"]) == ("done", 40, None)
