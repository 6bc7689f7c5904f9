"""Campaign sends when AWS answers badly: lost replies, redelivered and overlapping work, workers that died.

moto ignores `ClientRequestToken` (a repeated transaction is applied again, so its own conditions fail), which is the
harder case: the sender must know its own committed claims from the owner written on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from samtykke.adapters import aws as clients
from samtykke.adapters.campaign_repository import CampaignRepository, inflight_pk
from samtykke.adapters.repository import contact_pk, send_sk
from samtykke.domain.work import CLAIMED
from samtykke.local.outbox import read_outbox
from samtykke.local.provision import Resources
from samtykke.models.campaign import CampaignCreate
from samtykke.services.context import Services
from tests.faults import lost_replies
from tests.integration.campaign_support import ApiEvent, Invoke, Person, QueuePump, admin_call, body, seed
from tests.integration.conftest import TenantFixture

pytestmark = pytest.mark.integration

EXAMPLE: dict[str, Any] = CampaignCreate.model_config["json_schema_extra"]["example"]  # type: ignore[index]


@pytest.fixture(autouse=True)
def fast_transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from tests.moto_speedups import cheap_transaction_rollback

    with cheap_transaction_rollback(monkeypatch):
        yield


@pytest.fixture
def pump(aws: Resources, invoke: Invoke) -> QueuePump:
    return QueuePump(aws, invoke)


@pytest.fixture
def admin(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture) -> Callable[..., dict[str, Any]]:
    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(invoke, api_event, tenant, method, path, **kwargs)

    return call


def start(admin: Callable[..., dict[str, Any]]) -> str:
    created = admin("POST", "/v1/admin/campaigns", json_body={**EXAMPLE, "segment": None})
    assert created["statusCode"] == 201, created["body"]
    campaign_id: str = body(created)["campaign_id"]
    assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202
    return campaign_id


def emails_by_recipient() -> Counter[str]:
    return Counter(a for m in read_outbox() if m["channel"] == "email" for a in m["to"])


def test_a_lost_reply_on_the_claim_transaction_strands_nobody_and_sends_everyone_once(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
) -> None:
    # Given 120 subscribers (three chunks) and a campaign whose recipients are queued
    people = [Person(email=f"lost{i}@example.dk") for i in range(120)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin)
    pump.step("CampaignDispatchQueue")

    # When the first claim transaction commits but its reply is lost, so botocore sends it again
    with lost_replies(clients.dynamodb(), "TransactWriteItems", when=lambda request: b"INFLIGHT#" in request) as fault:
        pump.step("CampaignQueue", max_messages=1)
    assert fault.lost == 1
    pump.drain()

    # Then every recipient got exactly one email, and the campaign is done with queued = sent + skipped + failed
    assert emails_by_recipient() == Counter(p.email for p in people)
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    counts = view["counts"]
    assert view["status"] == "done"
    assert (counts["queued"], counts["sent"], counts["skipped"], counts["failed"]) == (120, 120, 0, 0)
    # And no claim is left in flight
    members, _ = CampaignRepository(aws.table_name).index_page("audience", inflight_pk(tenant.tenant_id, campaign_id))
    assert members == []


def test_a_lost_reply_on_the_count_adds_nothing_twice(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
) -> None:
    # Given 50 subscribers (one chunk) whose claims and records are written
    people = [Person(email=f"count{i}@example.dk") for i in range(50)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin)
    pump.step("CampaignDispatchQueue")

    # When the counters' transaction (the one with the work's tally marker) commits but its reply is lost
    with lost_replies(clients.dynamodb(), "TransactWriteItems", when=lambda request: b"TALLY#" in request) as fault:
        pump.drain()

    # Then the count's retry added nothing: 50 sent, counted once
    assert fault.lost == 1
    assert emails_by_recipient() == Counter(p.email for p in people)
    counts = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))["counts"]
    assert (counts["queued"], counts["sent"]) == (50, 50)


def test_a_claim_held_by_a_live_worker_is_left_to_it_and_a_dead_workers_is_taken_over(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
) -> None:
    # Given one chunk of 50, where two recipients are already claimed by other workers of the same chunk: one alive
    # (its lease runs), one that died (its lease ran out)
    people = [Person(email=f"held{i}@example.dk") for i in range(50)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin)
    pump.step("CampaignDispatchQueue")
    now = int(svc.clock().timestamp())
    live, dead = people[0], people[1]
    repo = CampaignRepository(aws.table_name)
    for person, owner, lease in ((live, "0-0/1/alive", now + 120), (dead, "0-0/1/dead", now - 5)):
        claim = {
            "pk": contact_pk(tenant.tenant_id, person.contact_id),
            "sk": send_sk(campaign_id),
            "campaign_id": campaign_id,
            "contact_id": person.contact_id,
            "chunk": "0-0",
            "state": CLAIMED,
            "owner": owner,
            "lease_until": lease,
        }
        repo.batch_write([claim])

    # When the sender takes the chunk
    pump.drain()

    # Then everyone but the live worker's recipient got one email (the dead worker's included), and the campaign
    # waits for the live worker instead of calling itself done
    assert emails_by_recipient() == Counter(p.email for p in people if p is not live)
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["sent"]) == ("sending", 49)
    held = repo.batch_get([(contact_pk(tenant.tenant_id, live.contact_id), send_sk(campaign_id))])
    assert [c["owner"] for c in held.values()] == ["0-0/1/alive"]
