"""Benchmark scenarios. Each runs on in-process moto and reports its AWS calls against the batching floor.

A scenario seeds what it needs, then starts a "cold container" (fresh clients, settings and caches) and
measures only the work it names. Handler overhead is the median, over interleaved runs, of the ratio of
our handler's CPU time to a raw boto3 script's making only the floor's calls against the same backend.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import boto3

from samtykke.adapters import aws
from samtykke.local.inprocess import in_process_aws
from samtykke.local.lambdas import invoke
from samtykke.local.provision import Resources
from samtykke.services.context import services
from samtykke.services.evidence_log.checkpoints import write_checkpoint
from samtykke.services.tenants import create_tenant
from tests.bench.calls import counting, our_clients
from tests.conftest import build_event, load_event

OVERHEAD_RUNS = 9
OVERHEAD_BATCH = 100  # requests per timed run
TENANT = "bench"
ORIGIN = "https://www.bench.example"
DYNAMODB_PAGE_BYTES = 1024 * 1024


@dataclass
class ScenarioResult:
    name: str
    description: str
    calls: dict[str, int]
    measured_calls: int
    floor_calls: int
    floor: str
    overhead_ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def call_ratio(self) -> float:
        return self.measured_calls / self.floor_calls

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"call_ratio": round(self.call_ratio, 4)}


@contextmanager
def _moto() -> Iterator[Resources]:
    """In-process moto, with its transaction rollback made proportional to the transaction rather than the table
    (samtykke/local/moto_speedups.py): moto would otherwise copy the whole table on every write, and time and memory
    would measure moto, not us. Call counts are the same either way."""
    import pytest

    from samtykke.local.moto_speedups import cheap_transaction_rollback

    with in_process_aws() as resources, pytest.MonkeyPatch.context() as patch, cheap_transaction_rollback(patch):
        yield resources


def _cold_container() -> None:
    """Forget clients, settings, cached keys and catalogues, as a new Lambda container would."""
    aws.reset_clients()
    services.cache_clear()


def _median_ratio(ours: Callable[[int], None], raw: Callable[[int], None]) -> float:
    """Runs ours and raw alternately, OVERHEAD_RUNS times each after one pair to warm up, and returns the median
    ratio of their CPU times. CPU time of this process, not wall time: other processes on a shared machine take the
    cores' time, not ours, so the ratio moves far less with the machine's load."""
    ratios = []
    for run in range(-1, OVERHEAD_RUNS):
        started = time.process_time()
        ours(run)
        ours_seconds = time.process_time() - started
        started = time.process_time()
        raw(run)
        if run >= 0:
            ratios.append(ours_seconds / (time.process_time() - started))
    return round(statistics.median(ratios), 3)


def _seed_tenant() -> None:
    create_tenant(services(), TENANT, "Bench ApS", allowed_origins=[ORIGIN], country="DK")


def _capture_event(email: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("apigw/consent_capture_json.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/public/{TENANT}/consents"
    event["pathParameters"] = {"tenant_id": TENANT}
    event["headers"]["origin"] = ORIGIN
    event["body"] = json.dumps({"email": email, "purpose": ["sales-and-service"], "national_id": "010190-1234"})
    return event


def consent_capture(posts: int = 2000) -> ScenarioResult:
    """Form posts for one purpose with an email and a national ID (a KMS-protected field), all new people."""
    with _moto() as resources:
        _seed_tenant()
        _cold_container()
        events = [_capture_event(f"person{i}@bench.example") for i in range(posts)]
        with counting(our_clients()) as counter:
            for event in events:
                assert invoke("consent_capture", event)["statusCode"] == 201
        # The scheduled checkpoint that anchors all of them: one KMS Sign, whatever the number of posts.
        with counting(our_clients()) as anchoring:
            checkpoint = write_checkpoint(services(), lag=timedelta(0))
        assert checkpoint is not None
        assert checkpoint.tree_size == posts

        raw = boto3.client("dynamodb")

        def ours(run: int) -> None:
            for i in range(OVERHEAD_BATCH):
                invoke("consent_capture", _capture_event(f"ours{run}-{i}@bench.example"))

        def raw_floor(run: int) -> None:
            for i in range(OVERHEAD_BATCH):
                raw.transact_write_items(TransactItems=_capture_like_transaction(resources, f"raw{run}-{i}"))

        ratio = _median_ratio(ours, raw_floor)
    kms_calls = sum(n for (service, _), n in counter.counts.items() if service == "kms")
    kms_anchoring = sum(n for (service, _), n in anchoring.counts.items() if service == "kms")
    return ScenarioResult(
        name="consent_capture",
        description=f"{posts} form posts, one purpose, an email and a KMS-protected national ID",
        calls=counter.as_dict(),
        measured_calls=counter.total(),
        floor_calls=posts + 1,
        floor=f"{posts} TransactWriteItems + 1 KMS Decrypt per container",
        overhead_ratio=ratio,
        extra={
            "kms_calls_per_100_posts": round(100 * kms_calls / posts, 3),
            "kms_calls_per_100_posts_with_checkpoint": round(100 * (kms_calls + kms_anchoring) / posts, 3),
            "checkpoint_calls": anchoring.as_dict(),
        },
    )


def _capture_like_transaction(resources: Resources, key: str) -> list[dict[str, Any]]:
    """What a capture must write at the least: profile, address index, event and state, as raw items."""
    pk = f"T#{TENANT}#C#{key}"
    blob = {"B": b"x" * 200}

    def put(item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": resources.table_name, "Item": item}}

    return [
        put({"pk": {"S": pk}, "sk": {"S": "PROFILE"}, "seq": {"N": "1"}, "profile": blob, "wrapped_key": blob}),
        put({"pk": {"S": f"T#{TENANT}#A#email#{key}"}, "sk": {"S": "ADDR"}, "contact_id": {"S": key}}),
        put({"pk": {"S": pk}, "sk": {"S": "EVENT#0000000001"}, "evidence": blob, "hash": {"S": "0" * 64}}),
        put({"pk": {"S": pk}, "sk": {"S": "STATE#sales-and-service#email"}, "status": {"S": "granted"}}),
    ]


def dsar_export(events: int = 1000) -> ScenarioResult:
    """A person's whole consent history read back: one contact with `events` events."""
    from samtykke.domain.consent import ActorType, AddressKind, Channel, ConsentStatus, EventType, LegalBasis
    from samtykke.models.consent import Actor, Evidence
    from samtykke.services.ledger import Address, ContactTarget, Ledger, StateChange

    with _moto() as resources:
        _seed_tenant()
        svc = services()
        keys = svc.keyring.tenant_keys(TENANT, svc.catalogs.get(TENANT).root_key_blob)
        ledger = Ledger(svc, keys)
        email = "history@bench.example"
        target = ContactTarget(
            addresses=[Address(AddressKind.EMAIL, email, keys.blind_index("email", email))], create_if_missing=True
        )
        for i in range(events):
            status = ConsentStatus.GRANTED if i % 2 == 0 else ConsentStatus.WITHDRAWN
            basis = LegalBasis.CONSENT if i % 2 == 0 else LegalBasis.WITHDRAWN
            change = StateChange("e-marketing", Channel.EMAIL, EventType.GRANT, status, basis, "web-form")
            evidence = Evidence(ip="203.0.113.9", user_agent="bench", page_url="https://bench.example/", at=svc.clock())
            target = ContactTarget(
                contact_id=ledger.write(
                    target, lambda _, c=change: [c], Actor(type=ActorType.CONTACT), evidence
                ).contact.contact_id
            )
        contact_id = target.contact_id
        partition_bytes = _partition_bytes(resources, f"T#{TENANT}#C#{contact_id}")

        event = copy.deepcopy(load_event("apigw/admin_request.json"))
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/admin/consent-log"
        event["queryStringParameters"] = {"email": email}
        event["rawQueryString"] = f"email={email}"
        event["requestContext"]["authorizer"]["lambda"]["tenant_id"] = TENANT
        _cold_container()
        with counting(our_clients()) as cold:
            invoke("admin_api", event)
        with counting(our_clients()) as counter:
            response = invoke("admin_api", event)
        assert response["statusCode"] == 200, response["body"]
        assert len(json.loads(response["body"])["events"]) == events

        raw = boto3.client("dynamodb")

        def raw_pages(_: int) -> None:
            request: dict[str, Any] = {
                "TableName": resources.table_name,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"T#{TENANT}#C#{contact_id}"}},
            }
            while "LastEvaluatedKey" in (page := raw.query(**request)):
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        ratio = _median_ratio(lambda _: invoke("admin_api", event), raw_pages)
    pages = max(1, math.ceil(partition_bytes / DYNAMODB_PAGE_BYTES))
    return ScenarioResult(
        name="dsar_export",
        description=f"the consent log of a contact with {events} events, found by email, warm container",
        calls=counter.as_dict(),
        measured_calls=counter.total(),
        floor_calls=pages + 1,
        floor=f"{pages} Query page(s) for {partition_bytes // 1024} KiB of history + 1 GetItem for the email's index",
        overhead_ratio=ratio,
        extra={"cold_container_calls": cold.as_dict()},
    )


def _partition_bytes(resources: Resources, pk: str) -> int:
    """An estimate of the partition's stored size: the serialised length of its items."""
    client = boto3.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": resources.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    total = 0
    while True:
        page = client.query(**request)
        total += sum(len(json.dumps(item, default=str)) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return total
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def campaign(contacts: int = 10_000) -> ScenarioResult:
    """An email campaign: 70% granted, of whom a seventh hard-bounced; 15% withdrawn; 15% pending. 60% eligible."""
    from samtykke.domain.consent import Channel, ConsentStatus
    from samtykke.domain.suppression import suppression_key
    from samtykke.models.campaign import CampaignCreate
    from tests.integration.campaign_support import Person, QueuePump, admin_call, body, seed, suppress
    from tests.integration.conftest import TenantFixture

    granted, withdrawn = (ConsentStatus.GRANTED,), (ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN)
    histories = [granted] * 70 + [withdrawn] * 15 + [(ConsentStatus.PENDING,)] * 15
    people = [Person(email=f"c{i}@bench.example", history=histories[i % 100]) for i in range(contacts)]
    bounced = [p for i, p in enumerate(people) if i % 100 < 10]
    tenant = TenantFixture(TENANT, api_key="", key_id="key_bench")
    with _moto() as resources:
        _seed_tenant()
        seed(services(), TENANT, people)
        for person in bounced:
            suppress(services(), TENANT, "email", person.email or "", suppression_key(Channel.EMAIL), "hard_bounce")
        example = CampaignCreate.model_config["json_schema_extra"]["example"] | {"segment": None}  # type: ignore[index]
        created = admin_call(invoke, build_event, tenant, "POST", "/v1/admin/campaigns", json_body=example)
        assert created["statusCode"] == 201, created["body"]
        campaign_id = body(created)["campaign_id"]
        pump = QueuePump(resources, invoke)
        _cold_container()
        with counting(our_clients()) as counter:
            sent = admin_call(invoke, build_event, tenant, "POST", f"/v1/admin/campaigns/{campaign_id}/send")
            assert sent["statusCode"] == 202, sent["body"]
            pump.drain()
        view = body(admin_call(invoke, build_event, tenant, "GET", f"/v1/admin/campaigns/{campaign_id}"))
        audience_pages = _audience_pages(resources)
    eligible = contacts * 60 // 100
    assert view["counts"]["sent"] == eligible, view
    # The floor sends one SQS message per eligible recipient, ten to a SendMessageBatch, and 50 recipients to
    # a SendBulkEmail. We pack 50 recipients into a message, so our own floor (with our packing) is lower, and
    # reported beside it.
    chunks = math.ceil(view["counts"]["queued"] / 50)
    records = math.ceil(eligible / 25)
    bulk = math.ceil(eligible / 50)
    floor = audience_pages + math.ceil(eligible / 10) + bulk + records
    packed_floor = audience_pages + math.ceil(chunks / 10) + bulk + records
    return ScenarioResult(
        name="campaign",
        description=f"an email campaign to {contacts} contacts, 60% eligible, bounces and withdrawals mixed in",
        calls=counter.as_dict(),
        measured_calls=counter.total(),
        floor_calls=floor,
        floor=f"{audience_pages} audience Query page(s) + {math.ceil(eligible / 10)} SendMessageBatch "
        f"+ {bulk} SendBulkEmail + {records} BatchWriteItem",
        extra={
            "counts": view["counts"],
            "calls_per_recipient": round(counter.total() / eligible, 4),
            "floor_with_50_recipients_per_message": packed_floor,
            "call_ratio_to_that_floor": round(counter.total() / packed_floor, 4),
        },
    )


def _raw_withdrawal(resources: Resources, key: str) -> list[dict[str, Any]]:
    """What a withdrawal must write at the least: the event, the state, the log head and the suppression."""
    pk = f"T#{TENANT}#C#{key}"
    blob = {"B": b"x" * 200}
    return [
        {
            "Put": {
                "TableName": resources.table_name,
                "Item": {"pk": {"S": pk}, "sk": {"S": "EVENT#0000000002"}, "evidence": blob},
            }
        },
        {
            "Put": {
                "TableName": resources.table_name,
                "Item": {"pk": {"S": pk}, "sk": {"S": "STATE#e-marketing#x"}, "status": {"S": "withdrawn"}},
            }
        },
        {
            "Put": {
                "TableName": resources.table_name,
                "Item": {"pk": {"S": pk}, "sk": {"S": "PROFILE"}, "seq": {"N": "2"}, "profile": blob},
            }
        },
        {
            "Put": {
                "TableName": resources.table_name,
                "Item": {"pk": {"S": f"T#{TENANT}#A#x#{key}"}, "sk": {"S": "ADDR"}, "suppressions": {"M": {}}},
            }
        },
    ]


def _burst(
    name: str,
    description: str,
    count: int,
    people: Callable[[int], Any],
    event_for: Callable[[Any, int], Any],
    function: str,
    ok: int,
    setup: Callable[[], None] = lambda: None,
) -> ScenarioResult:
    """`count` requests, each withdrawing one seeded person's consent: measured calls, and overhead against the
    raw transaction a withdrawal needs at the least."""
    from tests.integration.campaign_support import seed

    with _moto() as resources:
        _seed_tenant()
        setup()
        seeded = [people(i) for i in range(count + (OVERHEAD_RUNS + 1) * OVERHEAD_BATCH)]
        seed(services(), TENANT, seeded)
        events = [event_for(person, i) for i, person in enumerate(seeded)]
        _cold_container()
        with counting(our_clients()) as counter:
            for event in events[:count]:
                response = invoke(function, event)
                assert response["statusCode"] == ok, response.get("body")
        raw = boto3.client("dynamodb")
        spare = iter(events[count:])

        def ours(_: int) -> None:
            for _ in range(OVERHEAD_BATCH):
                invoke(function, next(spare))

        def raw_floor(run: int) -> None:
            for i in range(OVERHEAD_BATCH):
                raw.transact_write_items(TransactItems=_raw_withdrawal(resources, f"raw{run}-{i}"))

        ratio = _median_ratio(ours, raw_floor)
    writes = sum(n for (_, op), n in counter.counts.items() if op in WRITE_OPERATIONS)
    return ScenarioResult(
        name=name,
        description=description,
        calls=counter.as_dict(),
        measured_calls=counter.total(),
        floor_calls=count,
        floor=f"{count} TransactWriteItems (1 write per request)",
        overhead_ratio=ratio,
        extra={"writes_per_request": round(writes / count, 3)},
    )


WRITE_OPERATIONS = frozenset({"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


def unsubscribe_burst(count: int = 2000) -> ScenarioResult:
    """RFC 8058 one-click unsubscribes from `count` different people, with links as a campaign signs them."""
    from samtykke.adapters.repository import PROFILE, contact_pk
    from samtykke.domain.consent import AddressKind, Channel
    from samtykke.services.links import LinkSigner, head_hint
    from tests.integration.campaign_support import Person

    def event_for(person: Any, _: int) -> dict[str, Any]:
        svc = services()
        signer = LinkSigner.for_tenant(svc, TENANT, "https://consent.example.test")
        profile = svc.repo.get(contact_pk(TENANT, person.contact_id), PROFILE, consistent=True) or {}
        head = head_hint(signer.keys.contact_box(person.contact_id, profile["wrapped_key"]), profile, AddressKind.EMAIL)
        url = signer.unsubscribe(person.contact_id, "e-marketing", Channel.EMAIL, "bench", head)
        token = url.rsplit("/", 1)[-1]
        return build_event("unsubscribe_one_click", path=f"/u/{token}", path_parameters={"token": token})

    return _burst(
        "unsubscribe_burst",
        f"{count} one-click unsubscribes, links signed with a head hint as a campaign's are",
        count,
        lambda i: Person(email=f"u{i}@bench.example"),
        event_for,
        "unsubscribe",
        200,
    )


def sms_stop_burst(count: int = 2000) -> ScenarioResult:
    """Signed Twilio STOPs from `count` different numbers."""
    from urllib.parse import parse_qs, urlencode

    from samtykke.domain.consent import Channel
    from samtykke.domain.sms_signatures import twilio_signature
    from samtykke.models.sms import TwilioSettingsUpdate
    from samtykke.services import sms_admin
    from tests.integration.campaign_support import Person

    token = "0123456789abcdef0123456789abcdef"
    template = load_event("apigw/sms_twilio.json")
    url = f"https://{template['headers']['host']}/v1/webhooks/sms/twilio/{TENANT}"

    def event_for(person: Any, i: int) -> dict[str, Any]:
        fields = {k: v[0] for k, v in parse_qs(template["body"], keep_blank_values=True).items()}
        body = urlencode(fields | {"From": person.phone, "Body": "STOP", "MessageSid": f"SM{i:032x}"})
        signature = twilio_signature(token, url, parse_qs(body, keep_blank_values=True))
        return build_event(
            "sms_twilio",
            path=f"/v1/webhooks/sms/twilio/{TENANT}",
            path_parameters={"tenant_id": TENANT},
            body=body,
            headers={"x-twilio-signature": signature},
        )

    return _burst(
        "sms_stop_burst",
        f"{count} signed Twilio STOPs",
        count,
        lambda i: Person(phone=f"+4520{100000 + i:06d}", channel=Channel.SMS),
        event_for,
        "sms_webhooks",
        200,
        setup=lambda: sms_admin.set_twilio(services(), TENANT, TwilioSettingsUpdate(auth_token=token), "bench"),
    )


def _audience_pages(resources: Resources) -> int:
    """How many 1 MB pages DynamoDB needs for the campaign's audience index partition."""
    client = boto3.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": resources.table_name,
        "IndexName": "audience",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"T#{TENANT}#AUD#e-marketing#email"}},
    }
    pages = 0
    while True:
        page = client.query(**request)
        pages += 1
        if "LastEvaluatedKey" not in page:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def local_stack_growth(**sizes: int) -> ScenarioResult:
    from tests.bench.local_stack import local_stack_growth as run  # it builds on this module

    return run(**sizes)


SCENARIOS: dict[str, Callable[..., ScenarioResult]] = {
    "consent_capture": consent_capture,
    "dsar_export": dsar_export,
    "unsubscribe_burst": unsubscribe_burst,
    "sms_stop_burst": sms_stop_burst,
    "campaign": campaign,
    "local_stack_growth": local_stack_growth,
}
# `--full`: the sizes the issue names where `make bench` runs smaller to stay within its 3 minutes.
FULL_SIZES: dict[str, dict[str, int]] = {"campaign": {"contacts": 100_000}}
