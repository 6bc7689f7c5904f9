"""Helpers for the campaign tests: seeding contacts through the ledger, the admin API, and running the queues.

`QueuePump` plays Lambda's SQS event source mapping, deterministically and in this process: it receives from a
queue, invokes the consumer with the same SQS event Lambda sends (`samtykke.local.consumers.sqs_record`), and deletes
what the partial batch response did not report as failed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import boto3

from samtykke.adapters.repository import address_pk
from samtykke.domain.access import Role
from samtykke.domain.addresses import normalise_email, normalise_phone
from samtykke.domain.consent import ActorType, AddressKind, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.local.consumers import sqs_record
from samtykke.local.provision import QueueResource, Resources
from samtykke.models.consent import Actor, ContactProfile, Evidence
from samtykke.resources import DEFAULT_REGION
from samtykke.services.context import Services
from samtykke.services.ledger import Address, ContactTarget, Ledger, StateChange
from tests.integration.conftest import TenantFixture

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
ApiEvent = Callable[..., dict[str, Any]]

_EVENT_TYPES = {
    ConsentStatus.GRANTED: EventType.GRANT,
    ConsentStatus.PENDING: EventType.GRANT,
    ConsentStatus.PENDING_PARENTAL: EventType.GRANT,
    ConsentStatus.WITHDRAWN: EventType.WITHDRAW,
}


@dataclass
class Person:
    """A contact to seed: its addresses, and the statuses its consent passes through, oldest first."""

    email: str | None = None
    phone: str | None = None
    history: tuple[ConsentStatus, ...] = (ConsentStatus.GRANTED,)
    purpose: str = "e-marketing"
    channel: Channel = Channel.EMAIL
    locale: str = "da"
    first_name: str | None = None
    birth_date: date | None = None
    contact_id: str = ""


def seed(svc: Services, tenant_id: str, people: list[Person]) -> None:
    """Writes each person's history through the ledger, one consent change per write, as capture would.

    First changes of new contacts go through `Ledger.create_many` (several contacts per transaction) where the ledger
    has it; later changes through `Ledger.write`.
    """
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    ledger = Ledger(svc, keys)
    actor = Actor(type=ActorType.SYSTEM, id="test-seed")
    evidence = Evidence(at=svc.clock())

    def change(person: Person, status: ConsentStatus, after: ConsentStatus | None = None) -> StateChange:
        basis = LegalBasis.WITHDRAWN if status is ConsentStatus.WITHDRAWN else LegalBasis.CONSENT
        # A grant that follows `pending_parental` is the parent's confirmation.
        parental = after is ConsentStatus.PENDING_PARENTAL and status is ConsentStatus.GRANTED
        return StateChange(
            person.purpose, person.channel, _EVENT_TYPES[status], status, basis, "web-form", parental_consent=parental
        )

    def target(person: Person) -> ContactTarget:
        addresses = []
        email = normalise_email(person.email) if person.email else None
        phone = normalise_phone(person.phone, catalog.tenant.country) if person.phone else None
        if email:
            addresses.append(Address(AddressKind.EMAIL, email, keys.blind_index("email", email)))
        if phone:
            addresses.append(Address(AddressKind.PHONE, phone, keys.blind_index("phone", phone)))
        profile = ContactProfile(
            email=email, phone=phone, first_name=person.first_name, birth_date=person.birth_date, locale=person.locale
        )
        return ContactTarget(addresses=addresses, profile_updates=profile, create_if_missing=True)

    new = [p for p in people if not p.contact_id]
    requests = [(target(p), _decide(change(p, p.history[0])), evidence) for p in new]
    if hasattr(ledger, "create_many"):
        results = ledger.create_many(requests, actor)
    else:
        results = [ledger.write(t, decide, actor, evidence) for t, decide, _ in requests]
    for person, result in zip(new, results, strict=True):
        person.contact_id = result.contact.contact_id
    for person in people:
        for before, status in itertools.pairwise(person.history):
            decide = _decide(change(person, status, before))
            ledger.write(ContactTarget(contact_id=person.contact_id), decide, actor, evidence)


def _decide(change: StateChange) -> Callable[[Any], list[StateChange]]:
    return lambda _: [change]


def suppress(svc: Services, tenant_id: str, kind: str, value: str, key: str, reason: str) -> None:
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    normalised = normalise_email(value) if kind == "email" else normalise_phone(value, catalog.tenant.country)
    record = {"reason": reason, "at": svc.clock().isoformat(), "source": "test"}
    svc.repo.set_address_suppression(tenant_id, kind, keys.blind_index(kind, normalised), key, record)


def address_item(svc: Services, tenant_id: str, kind: str, value: str) -> dict[str, Any] | None:
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    return svc.repo.get(address_pk(tenant_id, kind, keys.blind_index(kind, normalise_email(value))), "ADDR")


def admin_call(
    invoke: Invoke,
    api_event: ApiEvent,
    tenant: TenantFixture,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    role: Role = Role.ADMIN,
    function: str = "admin_api",
) -> dict[str, Any]:
    event = api_event(
        "admin_request",
        path=path,
        path_parameters={"proxy": path.removeprefix("/v1/admin/")},
        json_body=json_body,
        authorizer=tenant.authorizer(role),
    )
    event["requestContext"]["http"]["method"] = method
    return invoke(function, event)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@dataclass
class QueuePump:
    resources: Resources
    invoke: Invoke
    delivered: list[dict[str, Any]] = field(default_factory=list)  # every campaign-queue message handed over
    sqs: Any = None

    def __post_init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=DEFAULT_REGION)

    def queue(self, logical_id: str) -> QueueResource:
        return next(q for q in self.resources.queues if q.spec.logical_id == logical_id)

    def step(self, logical_id: str, *, max_messages: int | None = None, visibility: int | None = None) -> int:
        """One receive and one invocation, as Lambda's event source mapping does; returns the messages handled."""
        queue = self.queue(logical_id)
        request: dict[str, Any] = {
            "QueueUrl": queue.url,
            "MaxNumberOfMessages": max_messages or queue.spec.batch_size,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if visibility is not None:
            request["VisibilityTimeout"] = visibility
        messages = self.sqs.receive_message(**request).get("Messages", [])
        if not messages:
            return 0
        records = [sqs_record(m, queue_arn=queue.arn, region=DEFAULT_REGION) for m in messages]
        if logical_id == "CampaignQueue":
            self.delivered += records
        result = self.invoke(queue.spec.consumer, {"Records": records})
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def drain(self, *, rounds: int = 1000) -> None:
        """Runs the dispatch queue and the campaign queue until both are empty."""
        for _ in range(rounds):
            if not (self.step("CampaignDispatchQueue") + self.step("CampaignQueue")):
                return
        raise AssertionError("the queues did not drain")

    def redeliver_all(self) -> None:
        """Hands every campaign-queue message delivered so far to the sender again, as an SQS redelivery would."""
        queue = self.queue("CampaignQueue")
        records = list(self.delivered)
        for start in range(0, len(records), queue.spec.batch_size):
            self.invoke(queue.spec.consumer, {"Records": records[start : start + queue.spec.batch_size]})

    def depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


def sent_count() -> int:
    """How many emails and SMS moto has accepted so far, without parsing them (read_outbox parses every one)."""
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    from samtykke.local.lambdas import LOCAL_ACCOUNT_ID

    ses = ses_backends[LOCAL_ACCOUNT_ID][DEFAULT_REGION]
    sns = sns_backends[LOCAL_ACCOUNT_ID][DEFAULT_REGION]
    return len(ses.sent_messages) + len(sns.sms_messages)
