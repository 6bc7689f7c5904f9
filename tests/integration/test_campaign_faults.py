"""Campaign sends when AWS answers badly: lost replies, redelivered and overlapping work, workers that died.

moto ignores `ClientRequestToken` (a repeated transaction is applied again, so its own conditions fail), which is the
harder case: the sender must know its own committed claims from the owner written on them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from samtykke.adapters import aws as clients
from samtykke.adapters.campaign_repository import CampaignRepository, inflight_pk
from samtykke.adapters.campaign_senders import BulkMailer, SmsSender
from samtykke.adapters.repository import contact_pk, send_sk
from samtykke.domain.consent import ConsentStatus
from samtykke.domain.work import CLAIMED, SENT, WorkItem
from samtykke.local.outbox import read_outbox
from samtykke.local.provision import Resources
from samtykke.models.campaign import CampaignCreate, RecipientChunk
from samtykke.services import campaign_dispatch, campaign_sender
from samtykke.services.campaign_sender import SenderState
from samtykke.services.context import Services
from tests.faults import lost_replies
from tests.integration.campaign_support import Invoke, Person, QueuePump, body, seed
from tests.integration.conftest import TenantFixture

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fast_transactions")]

EXAMPLE: dict[str, Any] = CampaignCreate.model_config["json_schema_extra"]["example"]  # type: ignore[index]
G, W = ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN


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


def test_a_redelivered_chunk_whose_claims_are_partly_held_sends_only_the_free_ones_and_counts_each_once(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
) -> None:
    # Given one queued chunk of 50 coming back on its second receive, where an earlier delivery sent and counted the
    # first 10; one key is claimed by a live worker, one by a dead one, two by this very work (its reply lost), one
    # holds another chunk's record (queued twice); and two recipients withdrew since the dispatch (one of them
    # among this work's own claims)
    people = [Person(email=f"part{i}@example.dk") for i in range(50)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin)
    pump.step("CampaignDispatchQueue")
    queued = pump.sqs.receive_message(QueueUrl=pump.queue("CampaignQueue").url)["Messages"]
    chunk = RecipientChunk.model_validate_json(queued[0]["Body"])
    work = WorkItem(scope=campaign_id, unit=chunk.chunk, attempt=2, request_id="redelivery")
    now = int(svc.clock().timestamp())
    earlier, live, dead, mine_withdrawn, mine, twice, withdrawn = people[:10], *people[10:16]
    held = [(p, {"state": SENT, "owner": "0-0/1/first", "sent_at": "earlier"}) for p in earlier] + [
        (live, {"state": CLAIMED, "owner": "0-0/1/alive", "lease_until": now + 120}),
        (dead, {"state": CLAIMED, "owner": "0-0/1/dead", "lease_until": now - 5}),
        (mine_withdrawn, {"state": CLAIMED, "owner": work.owner, "lease_until": now + 120}),
        (mine, {"state": CLAIMED, "owner": work.owner, "lease_until": now + 120}),
        (twice, {"state": SENT, "owner": "0-7/1/other", "chunk": "0-7", "sent_at": "earlier"}),
    ]
    repo = CampaignRepository(aws.table_name)
    repo.batch_write(
        {
            "pk": contact_pk(tenant.tenant_id, p.contact_id),
            "sk": send_sk(campaign_id),
            "campaign_id": campaign_id,
            "contact_id": p.contact_id,
            "chunk": chunk.chunk,
        }
        | item
        for p, item in held
    )
    repo.add_counts(tenant.tenant_id, campaign_id, {"n_sent": len(earlier)})
    for person in (mine_withdrawn, withdrawn):
        person.history = (G, W)
    seed(svc, tenant.tenant_id, [mine_withdrawn, withdrawn])
    claim_rounds = []

    def count_claims(params: dict[str, Any], **_: Any) -> None:
        if any("INFLIGHT#" in str(action) for action in params["TransactItems"]):
            claim_rounds.append(len(params["TransactItems"]))

    dynamodb = clients.dynamodb()
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", count_claims)
    try:
        # When the sender takes the chunk
        sender = campaign_sender.ChunkSender(
            svc, BulkMailer(svc.settings.ses_configuration_set), SmsSender(), SenderState()
        )
        result = sender.send(chunk, work)
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", count_claims)

    # Then the claims took two rounds: all 50 (cancelled by the held keys, so writing nothing), then the 35 free and
    # the dead worker's
    assert claim_rounds == [50, 36]
    # And only the free recipients, the dead worker's and this work's own claim to send got an email, each one
    sent_to = [dead, mine, *people[16:]]
    assert emails_by_recipient() == Counter(p.email for p in sent_to)
    assert (result.sent, dict(result.skipped), result.in_flight, result.duplicates, result.taken_over) == (
        len(sent_to),
        {"withdrawn": 2},
        1,
        1,
        1,
    )
    # And each key holds what it should: the earlier records and the live claim untouched, the rest this work's
    records = repo.batch_get((contact_pk(tenant.tenant_id, p.contact_id), send_sk(campaign_id)) for p in people)
    by_contact = {r["contact_id"]: (r["state"], r["owner"], r.get("reason")) for r in records.values()}
    assert by_contact == {
        **{p.contact_id: ("sent", "0-0/1/first", None) for p in earlier},
        live.contact_id: ("claimed", "0-0/1/alive", None),
        twice.contact_id: ("sent", "0-7/1/other", None),
        mine_withdrawn.contact_id: ("skipped", work.owner, "withdrawn"),
        withdrawn.contact_id: ("skipped", work.owner, "withdrawn"),
        **{p.contact_id: ("sent", work.owner, None) for p in sent_to},
    }
    # And the campaign counts each recipient once, and waits for the live worker's one
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    counts = view["counts"]
    assert (view["status"], counts["queued"], counts["sent"], counts["skipped_by_reason"]) == (
        "sending",
        50,
        len(earlier) + len(sent_to),
        {"withdrawn": 2},
    )


def test_a_worker_that_dies_after_claiming_is_finished_by_the_reconciler_once_and_honours_a_withdrawal(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 60 subscribers (two chunks), and a sender container that dies after claiming the first chunk
    people = [Person(email=f"dies{i}@example.dk") for i in range(60)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin)
    pump.step("CampaignDispatchQueue")
    original, deaths = campaign_sender.ChunkSender._send_all, []

    def dies_once(self: Any, *args: Any) -> Any:
        if not deaths:
            deaths.append(1)
            raise RuntimeError("the container was killed")
        return original(self, *args)

    monkeypatch.setattr(campaign_sender.ChunkSender, "_send_all", dies_once)

    # When the queue redelivers the chunk at once, while the dead worker's lease still runs
    pump.step("CampaignQueue", max_messages=1, visibility=0)
    pump.drain()

    # Then the redelivery leaves the live-looking claims alone: 10 sent, the campaign still sending
    assert len(emails_by_recipient()) == 10
    report = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/reconcile"))
    assert (report["status"], report["stale_claims"], report["in_flight"]) == ("sending", 0, 50)

    # When one stranded recipient withdraws, the lease runs out, and the reconciler runs
    stranded = [p for p in people if p.email not in emails_by_recipient()]
    quitter = stranded[0]
    quitter.history = (G, W)
    seed(svc, tenant.tenant_id, [quitter])
    later = svc.clock() + timedelta(seconds=campaign_sender.LEASE_SECONDS + 1)
    monkeypatch.setattr(svc, "clock", lambda: later)
    report = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/reconcile"))
    assert (report["stale_claims"], report["requeued_chunks"], report["in_flight"]) == (50, 1, 0)
    pump.drain()

    # Then each stranded recipient got one email, the one who withdrew none, and the schedule's run ends it `done`
    assert emails_by_recipient() == Counter(p.email for p in people if p is not quitter)
    assert invoke("campaign_reconciler", {})["finished"] == 1
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    counts = view["counts"]
    assert (view["status"], counts["queued"], counts["sent"], counts["skipped_by_reason"]) == (
        "done",
        60,
        59,
        {"withdrawn": 1},
    )
    assert CampaignRepository(aws.table_name).get(tenant.tenant_id, campaign_id)["status"] == "done"  # type: ignore[index]
    assert invoke("campaign_reconciler", {})["campaigns"] == 0  # off the active list


def test_lost_replies_on_the_send_request_and_on_a_dispatch_page_neither_refuse_nor_stall_the_campaign(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 60 subscribers, paged 20 at a time, and a draft campaign
    monkeypatch.setattr(campaign_dispatch, "PAGE_LIMIT", 20)
    people = [Person(email=f"page{i}@example.dk") for i in range(60)]
    seed(svc, tenant.tenant_id, people)
    created = admin("POST", "/v1/admin/campaigns", json_body={**EXAMPLE, "segment": None})
    campaign_id = body(created)["campaign_id"]
    dynamodb = clients.dynamodb()

    # When the send request's status change commits but its reply is lost
    with lost_replies(dynamodb, "UpdateItem", when=lambda request: b"send_token" in request) as lost_send:
        accepted = admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")

    # Then the caller is told the truth: accepted (not "already sent" by its own retry)
    assert lost_send.lost == 1
    assert accepted["statusCode"] == 202, accepted["body"]

    # When the first page's record commits but its reply is lost too
    with lost_replies(dynamodb, "UpdateItem", when=lambda request: b"dispatch_owner" in request) as lost_page:
        pump.drain()

    # Then the dispatcher knew its own write and went on: everyone got one email and the campaign is done
    assert lost_page.lost == 1
    assert emails_by_recipient() == Counter(p.email for p in people)
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["queued"], view["counts"]["sent"]) == ("done", 60, 60)


def test_a_send_whose_reply_is_lost_is_never_repeated_and_is_counted_unconfirmed(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
) -> None:
    # Given 20 subscribers (one bulk call) and SES accepting the bulk send, then losing its reply
    people = [Person(email=f"ses{i}@example.dk") for i in range(20)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin)
    with lost_replies(clients.sesv2_send_once(), "SendBulkEmail", times=1) as fault:
        pump.drain()
        pump.redeliver_all()

    # Then nobody got two emails (botocore did not retry the send), and every entry of the call whose answer was lost
    # is counted as sent, unconfirmed
    assert fault.lost == 1
    assert emails_by_recipient() == Counter(p.email for p in people)
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["sent"], view["counts"]["unconfirmed"]) == ("done", 20, 20)
    records = CampaignRepository(aws.table_name).batch_get(
        (contact_pk(tenant.tenant_id, p.contact_id), send_sk(campaign_id)) for p in people
    )
    unconfirmed = [r for r in records.values() if r.get("unconfirmed")]
    assert [(r["state"], r.get("message_id")) for r in unconfirmed] == [("sent", None)] * 20


def test_a_template_ses_refuses_holds_no_claim_and_the_chunk_goes_out_once_it_is_accepted(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 30 subscribers (one chunk), a container that has not stored the campaign template yet, and SES refusing
    # to store it until the refusal is lifted
    from functions.campaign_sender import handler as sender_handler

    monkeypatch.setattr(sender_handler, "DEFER_SECONDS", 0)  # a refused chunk is queued again at once
    monkeypatch.setattr(campaign_sender, "PAUSE_SECONDS", 0.2)  # and the sender's pause after a refusal is short
    monkeypatch.setattr(BulkMailer, "_ready", set())
    people = [Person(email=f"tpl{i}@example.dk") for i in range(30)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = start(admin)
    pump.step("CampaignDispatchQueue")
    refusing = [True]

    class Response:
        status_code = 400
        headers: ClassVar[dict[str, str]] = {}

    def refuse(**_: Any) -> Any:
        if refusing[0]:
            return Response(), {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        return None

    ses = clients.sesv2()
    ses.meta.events.register("before-call.sesv2.CreateEmailTemplate", refuse)
    try:
        # When the sender takes the chunk while the template is refused
        pump.step("CampaignQueue", visibility=0)

        # Then nothing went out, no claim is held, and the chunk is queued again
        assert read_outbox() == []
        index = CampaignRepository(aws.table_name).index_page("audience", inflight_pk(tenant.tenant_id, campaign_id))
        assert index[0] == []
        assert pump.depth(pump.queue("CampaignQueue").url) == 1

        # When SES accepts the template and, after the pause, the chunk comes back
        refusing[0] = False
        time.sleep(0.3)
        pump.drain()
    finally:
        ses.meta.events.unregister("before-call.sesv2.CreateEmailTemplate", refuse)

    # Then everyone got exactly one email and the campaign is done
    assert emails_by_recipient() == Counter(p.email for p in people)
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["sent"], view["counts"]["failed"]) == ("done", 30, 0)
