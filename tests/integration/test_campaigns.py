"""Campaign sends on moto: the dry run, the consent-filtered fan-out, exactly-once sending, the DLQ, throttling.

The queues run through `QueuePump`, which hands each SQS batch to the real handler as Lambda's event source mapping
does, deterministically.
"""

from __future__ import annotations

import copy
import math
import quopri
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar

import pytest

from samtykke.adapters.repository import PROFILE, contact_pk, send_sk
from samtykke.domain.access import Principal, Role
from samtykke.domain.consent import Channel, ConsentStatus
from samtykke.domain.suppression import suppression_key
from samtykke.local.outbox import read_outbox
from samtykke.local.provision import Resources
from samtykke.models.campaign import CampaignCreate
from samtykke.services import campaign_dispatch, campaign_sender
from samtykke.services.context import Services
from samtykke.services.links import LinkSigner
from tests.bench.calls import counting, our_clients
from tests.integration.campaign_support import (
    ApiEvent,
    Invoke,
    Person,
    QueuePump,
    body,
    seed,
    sent_count,
    suppress,
)
from tests.integration.conftest import TenantFixture

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fast_transactions")]

EXAMPLE: dict[str, Any] = CampaignCreate.model_config["json_schema_extra"]["example"]  # type: ignore[index]
G, P, PP, W = ConsentStatus.GRANTED, ConsentStatus.PENDING, ConsentStatus.PENDING_PARENTAL, ConsentStatus.WITHDRAWN
MINOR_BIRTH_DATE = date(2016, 5, 1)  # under 13 in Denmark


def create(admin: Callable[..., dict[str, Any]], **changes: Any) -> str:
    response = admin("POST", "/v1/admin/campaigns", json_body={**EXAMPLE, "segment": None} | changes)
    assert response["statusCode"] == 201, response["body"]
    campaign_id: str = body(response)["campaign_id"]
    return campaign_id


def send_and_drain(admin: Callable[..., dict[str, Any]], pump: QueuePump, campaign_id: str) -> dict[str, Any]:
    response = admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")
    assert response["statusCode"] == 202, response["body"]
    pump.drain()
    view: dict[str, Any] = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    return view


def emails_to(address: str) -> list[dict[str, Any]]:
    return [m for m in read_outbox(address) if m["channel"] == "email"]


def decoded(raw: str) -> str:
    """The raw MIME with quoted-printable undone: what a reader of either body part sees, links included."""
    return quopri.decodestring(raw.encode()).decode("utf-8", errors="replace")


def mixed_audience() -> dict[str, list[Person]]:
    """1,000 contacts with mixed histories, grouped by what the filter must decide about them."""

    def people(prefix: str, n: int, **kwargs: Any) -> list[Person]:
        return [Person(email=f"{prefix}{i}@example.dk", first_name=f"{prefix.title()}{i}", **kwargs) for i in range(n)]

    return {
        "included": people("anna", 450)
        + people("bo", 50, locale="en")
        + [Person(email=f"stop{i}@example.dk", phone=f"+452099{i:04d}", first_name=f"Stop{i}") for i in range(20)],
        "minor": people("minor", 30, history=(PP, G), birth_date=MINOR_BIRTH_DATE),
        "suppressed_hard_bounce": people("bounce", 40),
        "suppressed_complaint": people("complaint", 20),
        "suppressed_manual": people("manual", 20),
        "suppressed_unsubscribed": people("unsub", 30),
        "erased_contact": people("erased", 40),
        "pending_double_opt_in": people("pending", 150, history=(P,)),
        "withdrawn": people("withdrawn", 100, history=(G, W)),
        "pending_parental": people("child", 30, history=(PP,), birth_date=MINOR_BIRTH_DATE),
        "other_purpose": people("service", 20, purpose="sales-and-service"),
    }


def erase(svc: Services, tenant: TenantFixture, contact_id: str) -> None:
    from samtykke.services.erasure import erase_contact

    principal = Principal(tenant.tenant_id, tenant.key_id, "api_key", Role.ADMIN)
    erase_contact(svc, principal, contact_id, ip=None)


def test_a_campaign_to_1000_mixed_contacts_reaches_exactly_those_with_a_valid_basis(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
) -> None:
    # Given 1,000 contacts with mixed histories, suppressions and erasures, written through the ledger (those with
    # several changes first: moto's Query reads the whole table, so the ledger's reloads are cheap while it is small)
    groups = mixed_audience()
    everyone = [person for group in groups.values() for person in group]
    assert len(everyone) == 1000
    seed(svc, tenant.tenant_id, groups["erased_contact"])
    for person in groups["erased_contact"]:
        erase(svc, tenant, person.contact_id)
    several = groups["withdrawn"] + groups["minor"]
    seed(svc, tenant.tenant_id, several)
    seed(svc, tenant.tenant_id, [p for p in everyone if not p.contact_id])
    for person in groups["included"][-20:]:  # an SMS STOP of their number never blocks their email
        suppress(svc, tenant.tenant_id, "phone", person.phone or "", suppression_key(Channel.SMS), "sms_stop")
    for group, key, reason in (
        ("suppressed_hard_bounce", suppression_key(Channel.EMAIL), "hard_bounce"),
        ("suppressed_complaint", suppression_key(Channel.EMAIL), "complaint"),
        ("suppressed_manual", suppression_key(Channel.EMAIL, "e-marketing"), "manual"),
        ("suppressed_unsubscribed", suppression_key(Channel.EMAIL, "e-marketing"), "unsubscribed"),
    ):
        for person in groups[group]:
            suppress(svc, tenant.tenant_id, "email", person.email or "", key, reason)
    campaign_id = create(admin)

    # When it is dry-run
    report = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))

    # Then it counts who is included, who is excluded and why, and the fine exposure, and sends nothing
    expected_excluded = {
        reason: len(people) for reason, people in groups.items() if reason not in ("included", "minor", "other_purpose")
    }
    assert report["candidates"] == 980
    assert report["included"] == 550
    assert report["minors_included"] == 30
    assert report["excluded_by_reason"] == expected_excluded
    assert report["excluded"] == 430
    assert report["fine_exposure"] == {
        "country": "DK",
        "currency": "DKK",
        "per_recipient": 150,
        "minimum": 10000,
        "recipients": 430,
        "amount": 430 * 150,
        "source": report["fine_exposure"]["source"],
    }
    assert any("minors" in warning for warning in report["warnings"])
    assert read_outbox() == []

    # When it is sent, counting every AWS call our functions make
    with counting(our_clients()) as counter:
        view = send_and_drain(admin, pump, campaign_id)

    # Then exactly the contacts with a valid basis got one email each, with both headers and a visible link
    outbox = read_outbox()
    recipients = sorted(address for message in outbox for address in message["to"])
    expected = sorted((p.email or "").lower() for p in groups["included"] + groups["minor"])
    assert recipients == expected
    for message in outbox:
        headers = message["headers"]
        unsubscribe_url = headers["List-Unsubscribe"].strip("<>")
        assert unsubscribe_url.startswith("https://consent.example.test/u/")
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "List-Unsubscribe: <https://" in message["raw"]  # not folded into encoded words
        assert decoded(message["raw"]).count(unsubscribe_url) == 3  # the header, and the visible link in both bodies
        assert headers["X-Samtykke-Tenant"] == tenant.tenant_id
    english = next(m for m in outbox if m["to"] == ["bo0@example.dk"])
    assert english["subject"] == "Spring news for Bo0"
    danish = next(m for m in outbox if m["to"] == ["anna0@example.dk"])
    assert danish["subject"] == "Forårets nyheder til Anna0"

    # And the campaign shows it done, with every queued recipient accounted for
    assert view["status"] == "done"
    assert view["progress"] == 1.0
    counts = view["counts"]
    assert counts["queued"] == 660  # the audience index: the granted consents (erasure withdrew the erased)
    assert counts["sent"] == 550
    assert counts["minors"] == 30
    assert counts["failed"] == 0
    assert counts["skipped_by_reason"] == {
        "suppressed_complaint": 20,
        "suppressed_hard_bounce": 40,
        "suppressed_manual": 20,
        "suppressed_unsubscribed": 30,
    }

    # And every send left a record naming the consent event it relied on and the provider's message id
    message_ids = {m["to"][0]: m["message_id"] for m in outbox}
    for person in groups["included"][:25] + groups["minor"][:5]:
        pk = contact_pk(tenant.tenant_id, person.contact_id)
        record = svc.repo.get(pk, send_sk(campaign_id), consistent=True)
        state = svc.repo.get(pk, "STATE#e-marketing#email", consistent=True)
        assert record is not None
        assert state is not None
        assert record["state"] == "sent"
        assert record["consent_event_id"] == state["event_id"]
        assert record["message_id"] == message_ids[(person.email or "").lower()]
        assert record["sent_at"]

    # And the calls stay within 10% of the floor that the batch limits set, plus the fixed work each 50-recipient
    # chunk does to stay exactly-once (docs/campaigns.md): the re-check reads of states, suppressions and claims
    # (BatchGetItem), the claim and the count transactions, and the configuration counter read
    eligible, queued = 550, counts["queued"]
    chunks = math.ceil(queued / 50)
    floor = (
        1 + math.ceil(chunks / 10) + math.ceil(eligible / 50) + math.ceil(eligible / 25)
    )  # Query, SendMessageBatch of 10 chunks, bulk sends of 50, records
    per_chunk = 3 + 2 + 1
    print(f"\nAWS calls for the campaign: {counter.as_dict()}; floor {floor} + {per_chunk} a chunk")
    # One bulk call per chunk with anyone left to send to after the re-check (of up to 50 recipients)
    assert math.ceil(eligible / 50) <= counter.counts[("sesv2", "SendBulkEmail")] <= chunks
    assert counter.counts[("sesv2", "SendEmail")] == 0
    # campaign reads (the API, the dispatcher, each sender container), plus the tenant's configuration counter that
    # each chunk checks before it uses its cached configuration (services/fresh_cache.py)
    assert counter.counts[("dynamodb", "GetItem")] <= 8 + chunks
    assert counter.counts[("dynamodb", "BatchGetItem")] <= 3 * chunks
    assert counter.counts[("sqs", "SendMessageBatch")] == math.ceil(chunks / 10)
    # the claims, the count once per chunk, and the send request's own audit entry (services/audit)
    assert counter.counts[("dynamodb", "TransactWriteItems")] == 2 * chunks + 1
    # the campaign reads and the template made once aside
    assert counter.total() - counter.counts[("sesv2", "CreateEmailTemplate")] <= 1.10 * (floor + per_chunk * chunks) + 8

    # When every SQS message is delivered a second time
    before = len(outbox)
    with counting(our_clients()) as again:
        pump.redeliver_all()

    # Then nothing is sent twice and the counts stand
    assert sent_count() == before
    assert again.counts[("sesv2", "SendBulkEmail")] == 0
    assert body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))["counts"] == counts


def test_unsubscribing_halfway_through_a_running_campaign_stops_the_remaining_sends_to_that_person(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    api_event: ApiEvent,
    invoke: Invoke,
) -> None:
    # Given 120 subscribers (three chunks) and a campaign that has started sending
    people = [Person(email=f"reader{i}@example.dk", first_name=f"R{i}") for i in range(120)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = create(admin)
    assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202
    assert pump.step("CampaignDispatchQueue") == 1
    assert pump.step("CampaignQueue", max_messages=1) == 1
    sent_so_far = {m["to"][0] for m in read_outbox()}
    assert len(sent_so_far) == 50

    # When someone not reached yet uses the one-click unsubscribe of their link
    quitter = next(p for p in people if (p.email or "") not in sent_so_far)
    url = LinkSigner.for_tenant(svc, tenant.tenant_id, "https://consent.example.test").unsubscribe(
        quitter.contact_id, "e-marketing", Channel.EMAIL, campaign_id
    )
    token = url.rsplit("/", 1)[-1]
    one_click = api_event("unsubscribe_one_click", path=f"/u/{token}", path_parameters={"token": token})
    assert invoke("unsubscribe", one_click)["statusCode"] == 200

    # And the campaign runs to the end
    pump.drain()

    # Then that person got nothing, everyone else exactly one email, and the skip is counted with its reason
    assert emails_to(quitter.email or "") == []
    recipients = sorted(a for m in read_outbox() for a in m["to"])
    assert recipients == sorted((p.email or "") for p in people if p is not quitter)
    counts = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))["counts"]
    assert (counts["sent"], counts["skipped_by_reason"]) == (119, {"withdrawn": 1})


def test_a_poison_message_ends_in_the_dead_letter_queue_after_the_bounded_receives(
    aws: Resources, pump: QueuePump
) -> None:
    # Given a message on the campaign queue that no sender can read
    queue = pump.queue("CampaignQueue")
    pump.sqs.send_message(QueueUrl=queue.url, MessageBody='{"tenant_id": "acme", "contacts": "not a list"}')

    # When the sender receives it again and again (the visibility timeout elapsing at once)
    for _ in range(queue.spec.max_receive_count + 1):
        pump.step("CampaignQueue", visibility=0)

    # Then after max_receive_count failed receives it sits in the DLQ, where the alarm watches it
    assert pump.depth(queue.url) == 0
    dead = pump.sqs.receive_message(QueueUrl=queue.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ['{"tenant_id": "acme", "contacts": "not a list"}']


def test_the_consumers_drop_stale_work_and_report_only_unreadable_records_as_failed(
    aws: Resources, invoke: Invoke
) -> None:
    from tests.conftest import load_event

    # A chunk and a dispatch step for a campaign that does not exist: dropped, not retried
    chunk = load_event("sqs/campaign_chunk.json")
    assert invoke("campaign_sender", chunk) == {"batchItemFailures": []}
    assert invoke("campaign_dispatch", load_event("sqs/campaign_dispatch.json")) == {"batchItemFailures": []}

    # A record that is not a chunk: reported failed, so SQS retries it and, in the end, dead-letters it
    broken = copy.deepcopy(chunk)
    broken["Records"][0]["body"] = '{"tenant_id": "acme"'
    message_id = broken["Records"][0]["messageId"]
    assert invoke("campaign_sender", broken) == {"batchItemFailures": [{"itemIdentifier": message_id}]}


def test_throttling_slows_the_sender_and_nothing_is_sent_twice(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 60 subscribers (two chunks) and SES throttling from its 2nd bulk call until the throttle is lifted
    from functions.campaign_sender import handler as sender_handler
    from samtykke.adapters import aws as clients

    monkeypatch.setattr(campaign_sender, "PAUSE_SECONDS", 0.2)
    monkeypatch.setattr(sender_handler, "DEFER_SECONDS", 0)  # a throttled chunk is queued again at once
    people = [Person(email=f"slow{i}@example.dk") for i in range(60)]
    seed(svc, tenant.tenant_id, people)
    campaign_id = create(admin)
    lock, calls, throttling = threading.Lock(), [0], [True]

    class Response:
        status_code = 400
        headers: ClassVar[dict[str, str]] = {}

    def throttle(**_: Any) -> Any:
        with lock:
            calls[0] += 1
            if throttling[0] and calls[0] >= 2:
                return Response(), {"Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate"}}
        return None

    ses = clients.sesv2_send_once()
    ses.meta.events.register("before-call.sesv2.SendBulkEmail", throttle)
    try:
        assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202
        pump.step("CampaignDispatchQueue")

        # When the sender takes both chunks while SES throttles
        pump.step("CampaignQueue", visibility=0)

        # Then the first chunk went out in one call, the throttled one gave way, and that chunk is queued again (as
        # a fresh message, so that throttling never spends the receives that lead to the DLQ)
        assert calls[0] == 2
        assert len(read_outbox()) in (10, 50)
        assert pump.depth(pump.queue("CampaignQueue").url) == 1

        # When SES recovers and, after the pause, the queue redelivers
        throttling[0] = False
        time.sleep(0.3)
        pump.drain()
    finally:
        ses.meta.events.unregister("before-call.sesv2.SendBulkEmail", throttle)

    # Then everyone got exactly one email
    recipients = sorted(a for m in read_outbox() for a in m["to"])
    assert recipients == sorted(p.email or "" for p in people)
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["sent"], view["counts"]["failed"]) == ("done", 60, 0)


def test_the_dispatcher_pages_continues_in_a_new_step_when_time_runs_short_and_ignores_duplicates(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 70 subscribers, pages of 25, and a dispatcher whose time always runs short after one page
    people = [Person(email=f"paged{i}@example.dk") for i in range(70)]
    seed(svc, tenant.tenant_id, people)
    monkeypatch.setattr(campaign_dispatch, "PAGE_LIMIT", 25)
    monkeypatch.setattr(campaign_dispatch, "RESERVE_MS", 10**9)
    campaign_id = create(admin)
    assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202

    # When the first dispatch step is delivered twice
    dispatch_queue = pump.queue("CampaignDispatchQueue")
    first = pump.sqs.receive_message(QueueUrl=dispatch_queue.url, MessageSystemAttributeNames=["All"])["Messages"][0]
    pump.sqs.send_message(QueueUrl=dispatch_queue.url, MessageBody=first["Body"])
    pump.sqs.change_message_visibility(
        QueueUrl=dispatch_queue.url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    pump.drain()

    # Then each page was queued and counted once, over several steps, and everyone got one email
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["status"], view["counts"]["queued"], view["counts"]["sent"]) == ("done", 70, 70)
    assert sorted(a for m in read_outbox() for a in m["to"]) == sorted(p.email or "" for p in people)


def approve_unsubscribe_off(svc: Services, tenant_id: str, campaign_id: str) -> None:
    from samtykke.domain.access import Principal, Role
    from samtykke.services.campaigns import load_campaign
    from samtykke.services.governance.approvals import approve_unsubscribe_off as approve

    approver = Principal(tenant_id, "usr_second_pair_of_eyes", "staff", Role.ADMIN)
    approve(svc, approver, load_campaign(svc, tenant_id, campaign_id))


def test_a_transactional_campaign_skips_marketing_consent_but_never_bounces_complaints_or_erasure(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
) -> None:
    from samtykke.services import audit

    # Given customers of the sales-and-service purpose in every state, some suppressed, one erased
    people = {
        "granted": Person(email="granted@example.dk", purpose="sales-and-service"),
        "withdrawn": Person(email="withdrawn@example.dk", purpose="sales-and-service", history=(G, W)),
        "unsubscribed": Person(email="unsub@example.dk", purpose="sales-and-service"),
        "bounced": Person(email="bounced@example.dk", purpose="sales-and-service"),
        "complained": Person(email="complained@example.dk", purpose="sales-and-service"),
        "erased": Person(email="erased@example.dk", purpose="sales-and-service"),
    }
    seed(svc, tenant.tenant_id, list(people.values()))
    suppress(svc, tenant.tenant_id, "email", "unsub@example.dk", suppression_key(Channel.EMAIL), "unsubscribed")
    suppress(svc, tenant.tenant_id, "email", "bounced@example.dk", suppression_key(Channel.EMAIL), "hard_bounce")
    suppress(svc, tenant.tenant_id, "email", "complained@example.dk", suppression_key(Channel.EMAIL), "complaint")
    erase(svc, tenant, people["erased"].contact_id)
    justification = "Statutory notice of changed terms of service, required by contract"
    campaign_id = create(
        admin,
        purpose="sales-and-service",
        transactional=True,
        justification=justification,
        unsubscribe_link=False,
        content={"en": {"subject": "Our terms change", "text": "Dear {first_name}, our terms change on 1 January."}},
    )
    approve_unsubscribe_off(svc, tenant.tenant_id, campaign_id)  # four eyes (tests/integration/test_governance.py)

    # When it is dry-run and sent
    report = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))
    view = send_and_drain(admin, pump, campaign_id)

    # Then consent was not required, but the bounce, the complaint and the erasure still excluded
    assert report["included"] == 3
    assert report["excluded_by_reason"] == {
        "erased_contact": 1,
        "suppressed_complaint": 1,
        "suppressed_hard_bounce": 1,
    }
    recipients = sorted(a for m in read_outbox() for a in m["to"])
    assert recipients == ["granted@example.dk", "unsub@example.dk", "withdrawn@example.dk"]
    assert view["counts"]["sent"] == 3

    # And the switched-off unsubscribe link is absent, and the justification is in the audit log
    for message in read_outbox():
        assert "List-Unsubscribe" not in message["headers"]
    month = svc.clock().strftime("%Y-%m")
    entries, _ = audit.query(svc, tenant.tenant_id, month, target_id=campaign_id)
    actions = {entry["action"]: entry for entry in entries}
    assert set(actions) == {"campaign.transactional_created", "campaign.sent"}
    assert actions["campaign.sent"]["details"]["justification"] == justification
    assert actions["campaign.sent"]["details"]["unsubscribe_link"] is False


def test_an_sms_campaign_ends_with_the_opt_out_hint_and_a_stop_excludes_the_number(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    api_event: ApiEvent,
    invoke: Invoke,
) -> None:
    from tests.conftest import load_event

    # Given four SMS subscribers, one of whom replies STOP through the End User Messaging topic
    people = [
        Person(phone=f"+45201234{i:02d}", channel=Channel.SMS, first_name=f"S{i}", locale=locale)
        for i, locale in enumerate(("da", "sv", "de", "sv"))
    ]
    seed(svc, tenant.tenant_id, people)
    number = "+4570202020"
    registered = admin("POST", "/v1/admin/sms/numbers", json_body={"number": number}, function="sms_admin")
    assert registered["statusCode"] == 201, registered["body"]
    stop = copy.deepcopy(load_event("sns/inbound_sms.json"))
    message = stop["Records"][0]["Sns"]
    message["Message"] = message["Message"].replace("+4520123456", "+4520123401")
    invoke("sms_inbound", stop)
    # And a Swedish opt-out hint of the tenant's own
    hints = {"sms_opt_out_hints": {"sv": "Sluta? Svara STOPP"}}
    assert admin("PATCH", "/v1/admin/settings", json_body=hints)["statusCode"] == 200
    campaign_id = create(
        admin,
        channel="sms",
        content={"da": {"text": "Hej {first_name}: 20% i dag"}, "sv": {"text": "Hej {first_name}: 20% idag"}},
    )

    # When it is dry-run and sent
    report = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))
    send_and_drain(admin, pump, campaign_id)

    # Then the STOP excluded the number, and every SMS ends with the tenant's hint in the recipient's language
    assert (report["included"], report["excluded_by_reason"]) == (3, {"withdrawn": 1})
    sms = {m["to"][0]: m["text"] for m in read_outbox() if m["channel"] == "sms"}
    assert sms == {
        "+4520123400": "Hej S0: 20% i dag\nAfmeld: svar STOP",
        "+4520123402": "Hej S2: 20% i dag\nAbmelden: STOPP senden",  # no German content: Danish, with a German hint
        "+4520123403": "Hej S3: 20% idag\nSluta? Svara STOPP",
    }


def test_a_segment_narrows_the_audience_by_language_and_by_other_granted_purposes(
    aws: Resources, svc: Services, tenant: TenantFixture, admin: Callable[..., dict[str, Any]], pump: QueuePump
) -> None:
    # Given subscribers in two languages, some of whom also agreed to sales and service by email
    people = [Person(email=f"seg{i}@example.dk", locale=("da", "en")[i % 2]) for i in range(4)]
    seed(svc, tenant.tenant_id, people)
    seed(
        svc, tenant.tenant_id, [Person(email=p.email, purpose="sales-and-service", locale=p.locale) for p in people[:2]]
    )

    # When a campaign is narrowed to English speakers who also agreed to sales and service
    campaign_id = create(admin, segment={"locales": ["en"], "interests": ["sales-and-service"]})
    report = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))
    send_and_drain(admin, pump, campaign_id)

    # Then only seg1 is in it, and the others are out of the segment, which carries no fine
    assert (report["included"], report["excluded_by_reason"]) == (1, {"not_in_segment": 3})
    assert report["fine_exposure"]["amount"] == 0
    assert [a for m in read_outbox() for a in m["to"]] == ["seg1@example.dk"]


def test_the_fine_exposure_uses_the_tenants_rate_and_never_guesses_one(
    aws: Resources, svc: Services, tenant: TenantFixture, admin: Callable[..., dict[str, Any]]
) -> None:
    # Given a Swedish tenant (no rate in the table) with one withdrawn subscriber
    assert admin("PATCH", "/v1/admin/settings", json_body={"country": "SE"})["statusCode"] == 200
    seed(svc, tenant.tenant_id, [Person(email="gone@example.se", history=(G, W))])
    campaign_id = create(admin)

    # Then the dry run gives no figure, and says why
    report = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))
    assert report["fine_exposure"] is None
    assert any("fine_rate" in warning for warning in report["warnings"])

    # When the tenant sets its own rate, the dry run uses it
    rate = {"currency": "SEK", "per_recipient": 200, "minimum": 15000}
    assert admin("PATCH", "/v1/admin/settings", json_body={"fine_rate": rate})["statusCode"] == 200
    exposure = body(admin("POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))["fine_exposure"]
    assert (exposure["currency"], exposure["recipients"], exposure["amount"], exposure["source"]) == (
        "SEK",
        1,
        15000,
        "tenant setting",
    )
    bad = admin("PATCH", "/v1/admin/settings", json_body={"fine_rate": {"currency": "kr", "per_recipient": -1}})
    assert (bad["statusCode"], body(bad)["error"]["code"]) == (422, "validation_failed")


def test_every_failure_path_is_a_coded_4xx_and_writes_nothing(
    aws: Resources, svc: Services, tenant: TenantFixture, admin: Callable[..., dict[str, Any]]
) -> None:
    import boto3

    table = boto3.resource("dynamodb", region_name="eu-north-1").Table(aws.table_name)

    def campaign_items() -> int:
        return sum(1 for item in table.scan()["Items"] if "#CAMPAIGN#" in item["pk"])

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"content": {"en": {"subject": "Hi {nickname}", "text": "x"}}}, 422, "unknown_merge_field"),
        ({"content": {"en": {"subject": "Hi {first_name.__class__}", "text": "x"}}}, 422, "invalid_template"),
        ({"content": {"en": {"subject": "Hi {first_name", "text": "x"}}}, 422, "invalid_template"),
        ({"content": {"en": {"subject": "Hi", "text": "{0}"}}}, 422, "invalid_template"),
        ({"content": {"en": {"text": "no subject"}}}, 422, "subject_required"),
        ({"content": {"fr": {"subject": "Salut", "text": "x"}}}, 422, "unsupported_locale"),
        ({"channel": "sms", "content": {"da": {"subject": "x", "text": "x"}}}, 422, "sms_content_is_text_only"),
        ({"channel": "sms", "content": {"da": {"text": "{unsubscribe_url}"}}}, 422, "unknown_merge_field"),
        ({"purpose": "no-such-purpose"}, 422, "unknown_purpose"),
        ({"purpose": "sales-and-service", "channel": "sms"}, 422, "channel_not_in_purpose"),
        ({"segment": {"interests": ["nope"]}}, 422, "unknown_purpose"),
        ({"transactional": True}, 422, "justification_required"),
        ({"transactional": True, "justification": "too short"}, 422, "justification_required"),
        ({"unsubscribe_link": False}, 422, "unsubscribe_link_required"),
        ({"channel": "fax"}, 422, "validation_failed"),
        ({"surprise": 1}, 422, "validation_failed"),
    ]
    for changes, status, code in cases:
        response = admin("POST", "/v1/admin/campaigns", json_body={**EXAMPLE} | changes)
        assert (response["statusCode"], body(response)["error"]["code"]) == (status, code), changes
    assert campaign_items() == 0

    missing = "cmp_" + "0" * 32
    for method, path in (
        ("GET", f"/v1/admin/campaigns/{missing}"),
        ("POST", f"/v1/admin/campaigns/{missing}/dry-run"),
        ("POST", f"/v1/admin/campaigns/{missing}/send"),
        ("GET", "/v1/admin/campaigns/..%2F..%2Fsecrets"),
        ("GET", "/v1/admin/campaigns/T%23acme"),
    ):
        response = admin(method, path)
        assert (response["statusCode"], body(response)["error"]["code"]) == (404, "campaign_not_found"), path

    campaign_id = create(admin)
    for role, method, path in (
        (Role.AUTHOR, "POST", f"/v1/admin/campaigns/{campaign_id}/send"),
        (Role.VIEWER, "POST", "/v1/admin/campaigns"),
    ):
        response = admin(method, path, role=role, json_body=EXAMPLE if method == "POST" else None)
        assert (response["statusCode"], body(response)["error"]["code"]) == (403, "permission_denied")
    assert admin("GET", f"/v1/admin/campaigns/{campaign_id}", role=Role.VIEWER)["statusCode"] == 200


def test_a_send_that_cannot_be_queued_is_a_503_and_leaves_a_draft_that_can_be_sent_later(
    aws: Resources, admin: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch, pump: QueuePump
) -> None:
    campaign_id = create(admin)
    url = pump.queue("CampaignDispatchQueue").url
    monkeypatch.setenv("SAMTYKKE_CAMPAIGN_DISPATCH_QUEUE_URL", url + "-gone")

    response = admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")

    assert (response["statusCode"], body(response)["error"]["code"]) == (503, "campaign_queue_unavailable")
    assert response["headers"]["Retry-After"]
    assert body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))["status"] == "draft"

    monkeypatch.setenv("SAMTYKKE_CAMPAIGN_DISPATCH_QUEUE_URL", url)
    assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202
    again = admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")
    assert (again["statusCode"], body(again)["error"]["code"]) == (409, "campaign_already_sent")


def test_an_erased_contact_keeps_no_send_path_and_profiles_are_never_logged(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    pump: QueuePump,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two subscribers, one erased after the dispatch queued both
    people = [Person(email="keep@example.dk", first_name="Keep"), Person(email="gone@example.dk", first_name="Gone")]
    seed(svc, tenant.tenant_id, people)
    campaign_id = create(admin)
    assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202
    pump.step("CampaignDispatchQueue")
    erase(svc, tenant, people[1].contact_id)

    # When the chunk is sent
    pump.drain()

    # Then only the other got mail, and no log line carries an address or a name
    assert [a for m in read_outbox() for a in m["to"]] == ["keep@example.dk"]
    profile = svc.repo.get(contact_pk(tenant.tenant_id, people[1].contact_id), PROFILE, consistent=True)
    assert profile is not None
    assert profile["erased"]
    output = capsys.readouterr()
    for secret in ("keep@example.dk", "gone@example.dk", "Keep", "Gone"):
        assert secret not in output.out + output.err
