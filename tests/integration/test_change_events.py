"""Change events end to end on moto: the table stream, the bus, the webhook queue, signed deliveries, the feed."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from samtykke.adapters.repository import ContactChanged, ContactWrite
from samtykke.domain.access import Role
from samtykke.domain.consent import ActorType, AddressKind, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.models.consent import Actor, Evidence
from samtykke.services import audit
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.events_support import Pipeline
from tests.integration.staff_support import PASSWORD, StaffApi, make_staff_factory, use_cheap_scrypt
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
ApiEvent = Callable[..., dict[str, Any]]
WITHDRAWN = "dk.samtykke.consent.withdrawn"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def pipeline(aws: Any, tenant: TenantFixture) -> Pipeline:
    return Pipeline(aws)


def admin(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture, method: str, path: str, **kwargs: Any) -> Any:
    event = api_event("admin_request", path=path, authorizer=tenant.authorizer(), **kwargs)
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = f"{method} {path}"
    response = invoke("events_admin", event)
    assert response["statusCode"] < 300, response["body"]
    return body_of(response)


def subscribe(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture, url: str, types: list[str]) -> dict[str, Any]:
    created: dict[str, Any] = admin(
        invoke, api_event, tenant, "POST", "/v1/admin/webhooks", json_body={"url": url, "event_types": types}
    )
    return created


def signup(invoke: Invoke, api_event: ApiEvent, email: str) -> str:
    body = {"email": email, "purpose": ["sales-and-service"]}
    contact_id: str = body_of(invoke("consent_capture", api_event("consent_capture_json", json_body=body)))[
        "contact_id"
    ]
    return contact_id


def withdraw(svc: Services, tenant_id: str, contact_id: str, purpose: str = "sales-and-service") -> None:
    keys = svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)

    def decide(_: LoadedContact) -> list[StateChange]:
        return [
            StateChange(
                purpose, Channel.EMAIL, EventType.WITHDRAW, ConsentStatus.WITHDRAWN, LegalBasis.WITHDRAWN, "test"
            )
        ]

    record = {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": svc.clock().isoformat()}
    target = ContactTarget(
        contact_id=contact_id, suppressions=[(AddressKind.EMAIL, suppression_key(Channel.EMAIL, purpose), record)]
    )
    Ledger(svc, keys).write(target, decide, Actor(type=ActorType.CONTACT), Evidence(at=svc.clock()))


def test_a_withdrawal_reaches_the_receiver_as_a_signed_cloudevent(
    svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, pipeline: Pipeline, receiver: Receiver
) -> None:
    webhook = subscribe(invoke, api_event, tenant, receiver.url, [WITHDRAWN, "dk.samtykke.suppression.added"])
    contact_id = signup(invoke, api_event, "leaving@example.dk")

    withdraw(svc, tenant.tenant_id, contact_id)
    pipeline.run()

    (delivery,) = receiver.events(WITHDRAWN)
    event = delivery.verify(webhook["secret"])  # standardwebhooks: raises unless the signature verifies
    assert event["specversion"] == "1.0"
    assert event["subject"] == contact_id
    assert event["source"] == f"/samtykke/tenants/{tenant.tenant_id}"
    assert event["data"] | {"tenant": tenant.tenant_id} == event["data"]
    assert {k: event["data"][k] for k in ("purpose", "channel", "status")} == {
        "purpose": "sales-and-service",
        "channel": "email",
        "status": "withdrawn",
    }
    assert event["data"]["event_id"].startswith("evt_")
    assert len(event["data"]["hash"]) == 64
    assert delivery.headers["webhook-id"] == event["id"] == event["data"]["event_id"]
    assert "leaving@example.dk" not in delivery.body  # no addresses unless the subscription opts in
    (suppressed,) = receiver.events("dk.samtykke.suppression.added")
    assert suppressed.event["data"]["reason"] == "unsubscribed"
    # The grant was not subscribed to, so it was not sent.
    assert not receiver.events("dk.samtykke.consent.granted")


def test_a_withdrawal_staff_record_for_a_person_reaches_the_receiver_like_a_self_service_one(
    svc: Services,
    tenant: TenantFixture,
    api_event: ApiEvent,
    invoke: Invoke,
    pipeline: Pipeline,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_cheap_scrypt(request, monkeypatch)
    user_id, email = make_staff_factory(svc)(tenant.tenant_id, Role.EDITOR)
    staff = StaffApi(api_event, invoke)
    token = staff.token(email, PASSWORD)
    webhook = subscribe(invoke, api_event, tenant, receiver.url, [WITHDRAWN])
    by_phone, by_self = signup(invoke, api_event, "ringer@example.dk"), signup(invoke, api_event, "clicker@example.dk")

    change = {
        "action": "withdraw",
        "purpose": "sales-and-service",
        "channel": "email",
        "source": "phone",
        "note": "Rang on 3 December and asked us to stop; confirmed name and address",
    }
    recorded = staff.admin("POST", f"/v1/admin/contacts/{by_phone}/consents", token, json_body=change)
    assert recorded["statusCode"] == 201, recorded["body"]
    withdraw(svc, tenant.tenant_id, by_self)
    pipeline.run()

    by_subject = {d.event["subject"]: d.verify(webhook["secret"]) for d in receiver.events(WITHDRAWN)}
    staff_event, self_event = by_subject[by_phone], by_subject[by_self]
    assert staff_event["type"] == self_event["type"] == WITHDRAWN
    assert staff_event["data"]["event_id"] == body_of(recorded)["event_id"]
    assert (staff_event["data"]["actor_type"], staff_event["data"]["source"]) == ("staff", "staff-phone")
    assert staff_event["data"]["actor_id"] == user_id
    assert self_event["data"]["actor_type"] == "contact"
    assert "actor_id" not in self_event["data"]  # a person's own withdrawal names nobody
    shared = ("tenant", "purpose", "channel", "status", "legal_basis", "seq")
    assert {k: staff_event["data"][k] for k in shared} == {k: self_event["data"][k] for k in shared}
    assert "ringer@example.dk" not in str(staff_event)
    assert "Rang on" not in str(staff_event)  # the note is evidence, sealed: never on the wire


def test_addresses_ride_along_only_when_the_subscription_opts_in(
    svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, pipeline: Pipeline, receiver: Receiver
) -> None:
    created = admin(
        invoke,
        api_event,
        tenant,
        "POST",
        "/v1/admin/webhooks",
        json_body={"url": receiver.url, "event_types": [WITHDRAWN], "include_addresses": True},
    )
    contact_id = signup(invoke, api_event, "visible@example.dk")
    withdraw(svc, tenant.tenant_id, contact_id)
    pipeline.run()

    (delivery,) = receiver.events(WITHDRAWN)
    assert delivery.verify(created["secret"])["data"]["email"] == "visible@example.dk"


def test_a_receiver_that_fails_five_times_gets_the_event_on_the_sixth_attempt_with_the_same_id(
    svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, pipeline: Pipeline, receiver: Receiver
) -> None:
    receiver.fail_times = 5
    webhook = subscribe(invoke, api_event, tenant, receiver.url, [WITHDRAWN])
    contact_id = signup(invoke, api_event, "flaky@example.dk")
    withdraw(svc, tenant.tenant_id, contact_id)

    pipeline.publish()
    deadline = time.monotonic() + 30
    while len(receiver.events(WITHDRAWN)) < 6 and time.monotonic() < deadline:
        pipeline.deliver(wait_seconds=1)  # the local retry schedule waits 1-2 s between attempts

    attempts = receiver.events(WITHDRAWN)
    assert len(attempts) == 6
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert all(a.verify(webhook["secret"])["subject"] == contact_id for a in attempts)
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 0.9 for gap in gaps), gaps  # backoff, not a tight loop
    log = admin(invoke, api_event, tenant, "GET", f"/v1/admin/webhooks/{webhook['subscription_id']}/deliveries")
    (entry,) = log["deliveries"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 6, 204)


def test_a_delivery_past_its_retry_window_is_dead_letters_and_fails_the_subscription_until_replayed(
    svc: Services,
    tenant: TenantFixture,
    api_event: ApiEvent,
    invoke: Invoke,
    pipeline: Pipeline,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(svc.settings, "webhook_retry", "1,1,2")  # give up after two seconds
    receiver.fail_times = 1000
    webhook = subscribe(invoke, api_event, tenant, receiver.url, [WITHDRAWN])
    subscription = webhook["subscription_id"]
    withdraw(svc, tenant.tenant_id, signup(invoke, api_event, "gone@example.dk"))

    pipeline.publish()
    deadline = time.monotonic() + 20
    dead: list[dict[str, Any]] = []
    while not dead and time.monotonic() < deadline:
        pipeline.deliver(wait_seconds=1)
        dead = pipeline.dead_letters()

    (dead_letter,) = dead
    assert dead_letter["event_type"] == WITHDRAWN
    assert admin(invoke, api_event, tenant, "GET", f"/v1/admin/webhooks/{subscription}")["status"] == "failing"
    (entry,) = admin(
        invoke, api_event, tenant, "GET", f"/v1/admin/webhooks/{subscription}/deliveries", query={"status": "dead"}
    )["deliveries"]

    receiver.fail_times = 0
    before = len(receiver.events(WITHDRAWN))
    admin(
        invoke, api_event, tenant, "POST", f"/v1/admin/webhooks/{subscription}/deliveries/{entry['delivery_id']}/replay"
    )
    pipeline.run()

    replayed = receiver.events(WITHDRAWN)[before:]
    assert [r.headers["webhook-id"] for r in replayed] == [dead_letter["event_id"]]
    assert admin(invoke, api_event, tenant, "GET", f"/v1/admin/webhooks/{subscription}")["status"] == "active"


def test_nothing_is_published_for_a_write_that_failed(
    svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, pipeline: Pipeline, receiver: Receiver
) -> None:
    subscribe(invoke, api_event, tenant, receiver.url, ["*"])
    contact_id = signup(invoke, api_event, "steady@example.dk")
    pipeline.run()
    delivered = len(receiver.received)

    # A writer that lost the race: its transaction (event, state, head) is cancelled as a whole.
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    contact = Ledger(svc, keys).load(contact_id)
    stale = ContactWrite(
        tenant_id=tenant.tenant_id,
        contact_id=contact_id,
        expected_seq=contact.seq - 1,
        profile={"seq": contact.seq},
        events=[
            {
                "event_id": "evt_never",
                "contact_id": contact_id,
                "seq": contact.seq,
                "type": "withdraw",
                "purpose": "sales-and-service",
                "channel": "email",
                "status": "withdrawn",
                "at": "2026-01-01",
            }
        ],
    )
    with pytest.raises(ContactChanged):
        svc.repo.write_contact(stale)

    written = [r["dynamodb"]["Keys"] for r in pipeline.publish()]
    assert not [k for k in written if k["pk"]["S"].endswith(contact_id)], written  # not the head, not the event
    pipeline.run()
    assert len(receiver.received) == delivered
    assert not [r for r in receiver.received if r.event["id"] == "evt_never"]


def test_the_change_feed_rebuilds_the_tenants_consent_state(
    svc: Services,
    tenant: TenantFixture,
    api_event: ApiEvent,
    invoke: Invoke,
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contacts = [signup(invoke, api_event, f"feed{i}@example.dk") for i in range(4)]
    withdraw(svc, tenant.tenant_id, contacts[0])
    withdraw(svc, tenant.tenant_id, contacts[2])
    signup(invoke, api_event, "feed2@example.dk")  # granted again after the withdrawal
    pipeline.publish()
    later = svc.clock() + timedelta(seconds=10)
    monkeypatch.setattr(svc, "clock", lambda: later)  # past the feed's settle window

    states: dict[tuple[str, str, str], tuple[int, str]] = {}
    suppressions: dict[tuple[str, str], str] = {}
    since, pages = None, 0
    while True:
        page = admin(
            invoke,
            api_event,
            tenant,
            "GET",
            "/v1/admin/changes",
            query={"limit": "3", **({"since": since} if since else {})},
        )
        pages += 1
        for change in page["changes"]:
            data = change["data"]
            if change["type"].startswith("dk.samtykke.consent."):
                key = (data["contact_id"], data["purpose"], data["channel"])
                if key not in states or states[key][0] < data["seq"]:
                    states[key] = (data["seq"], data["status"])
            elif change["type"] == "dk.samtykke.suppression.added":
                suppressions[(data["address_id"], f"{data['channel']}#{data['purpose']}")] = data["reason"]
            elif change["type"] == "dk.samtykke.suppression.lifted":
                suppressions.pop((data["address_id"], f"{data['channel']}#{data['purpose']}"), None)
        since = page["next_cursor"]
        if not page["has_more"]:
            break

    table_states, table_suppressions = {}, {}
    for item in _scan(svc):
        if item["pk"].startswith(f"T#{tenant.tenant_id}#C#") and item["sk"].startswith("STATE#"):
            table_states[(item["contact_id"], item["purpose"], item["channel"])] = (item["seq"], item["status"])
        if item["pk"].startswith(f"T#{tenant.tenant_id}#A#"):
            for key, record in (item.get("suppressions") or {}).items():
                table_suppressions[(item["pk"].rsplit("#", 1)[-1], key)] = record["reason"]
    assert pages > 2  # it really paged
    assert states == table_states
    assert suppressions == table_suppressions
    assert states[(contacts[2], "sales-and-service", "email")][1] == "granted"
    assert states[(contacts[0], "sales-and-service", "email")][1] == "withdrawn"
    # Caught up: the cursor returns nothing new.
    assert admin(invoke, api_event, tenant, "GET", "/v1/admin/changes", query={"since": since})["changes"] == []


def _scan(svc: Services) -> list[dict[str, Any]]:
    from samtykke.adapters import aws
    from samtykke.adapters.repository import from_attributes

    items, request = [], {"TableName": svc.repo.table_name}
    while True:
        page = aws.dynamodb().scan(**request)
        items += [from_attributes(i) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_webhook_writes_are_for_owners_and_admins_audited_and_never_show_a_secret_again(
    svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, receiver: Receiver
) -> None:
    def call(role: Role, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        event = api_event("admin_request", path=path, authorizer=tenant.authorizer(role), **kwargs)
        event["requestContext"]["http"]["method"] = method
        return invoke("events_admin", event)

    body = {"url": receiver.url, "event_types": [WITHDRAWN]}
    assert call(Role.EDITOR, "POST", "/v1/admin/webhooks", json_body=body)["statusCode"] == 403
    assert call(Role.AUTHOR, "GET", "/v1/admin/webhooks")["statusCode"] == 403
    created = body_of(call(Role.ADMIN, "POST", "/v1/admin/webhooks", json_body=body))
    path = f"/v1/admin/webhooks/{created['subscription_id']}"
    rotated = body_of(call(Role.ADMIN, "POST", f"{path}/rotate-secret", query={"overlap_hours": "1"}))

    assert created["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert len(rotated["secrets"]) == 2  # the old one signs on through the overlap
    listed = call(Role.VIEWER, "GET", "/v1/admin/webhooks")
    assert listed["statusCode"] == 200
    assert created["secret"] not in listed["body"]
    assert rotated["secret"] not in listed["body"]
    entries, _ = audit.query(svc, tenant.tenant_id, svc.clock().strftime("%Y-%m"), limit=50)
    actions = [(e["action"], e["target"]["id"]) for e in entries if e["target"]]
    assert ("webhook.created", created["subscription_id"]) in actions
    assert ("webhook.secret_rotated", created["subscription_id"]) in actions


def test_the_cloud_refuses_plain_http_and_private_receivers(
    svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(svc.settings, "stage", "aws")
    for url in ("http://crm.example.com/hooks", "https://127.0.0.1/hooks", "https://localhost/hooks"):
        event = api_event(
            "admin_request",
            path="/v1/admin/webhooks",
            authorizer=tenant.authorizer(),
            json_body={"url": url, "event_types": [WITHDRAWN]},
        )
        event["requestContext"]["http"]["method"] = "POST"
        response = invoke("events_admin", event)
        assert (response["statusCode"], body_of(response)["error"]["code"]) == (422, "webhook_url_refused"), url
