"""SES bounces and complaints, through SNS to `ses_events`: hard bounces and complaints suppress, soft ones count."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from samtykke.adapters.repository import contact_pk, send_sk
from samtykke.local.provision import Resources
from samtykke.models.campaign import CampaignCreate
from samtykke.services.context import Services
from tests.conftest import load_event
from tests.integration.campaign_support import ApiEvent, Invoke, Person, QueuePump, address_item, admin_call, body, seed
from tests.integration.conftest import TenantFixture

pytestmark = pytest.mark.integration

EXAMPLE: dict[str, Any] = CampaignCreate.model_config["json_schema_extra"]["example"]  # type: ignore[index]


@pytest.fixture(autouse=True)
def fast_transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from samtykke.local.moto_speedups import cheap_transaction_rollback

    with cheap_transaction_rollback(monkeypatch):
        yield


@pytest.fixture
def admin(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture) -> Callable[..., dict[str, Any]]:
    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(invoke, api_event, tenant, method, path, **kwargs)

    return call


def ses_event(name: str, address: str, *, campaign_id: str | None, contact_id: str | None, **bounce: Any) -> Any:
    """`events/ses/{name}.json` for another address and send; `bounce` replaces fields of the bounce/complaint."""
    event = copy.deepcopy(load_event(f"ses/{name}.json"))
    detail = event["bounce"] if "bounce" in event else event["complaint"]
    recipients = detail.get("bouncedRecipients") or detail.get("complainedRecipients")
    recipients[0]["emailAddress"] = address
    detail.update(bounce)
    tags = event["mail"]["tags"]
    for tag, value in (("samtykke-campaign", campaign_id), ("samtykke-contact", contact_id)):
        if value is None:
            tags.pop(tag)
        else:
            tags[tag] = [value]
    event["mail"]["destination"] = [address]
    return event


def through_sns(invoke: Invoke, message: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(load_event("sns/ses_notification.json"))
    envelope["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return invoke("ses_events", envelope)


def table_snapshot(table_name: str) -> list[str]:
    items = boto3.client("dynamodb", region_name="eu-north-1").scan(TableName=table_name)["Items"]
    return sorted(json.dumps(item, sort_keys=True, default=repr) for item in items)


def test_bounces_and_complaints_suppress_the_address_and_the_next_dry_run_excludes_it(
    aws: Resources,
    svc: Services,
    tenant: TenantFixture,
    admin: Callable[..., dict[str, Any]],
    invoke: Invoke,
) -> None:
    # Given a campaign sent to four subscribers
    people = [Person(email=f"{name}@example.dk") for name in ("hard", "complains", "full", "fine")]
    seed(svc, tenant.tenant_id, people)
    hard, complains, full, _ = people
    created = admin("POST", "/v1/admin/campaigns", json_body={**EXAMPLE, "segment": None})
    campaign_id = body(created)["campaign_id"]
    assert admin("POST", f"/v1/admin/campaigns/{campaign_id}/send")["statusCode"] == 202
    QueuePump(aws, invoke).drain()

    # When SES reports a permanent bounce, a complaint (twice: SNS may redeliver) and three transient bounces
    sent = {"campaign_id": campaign_id}
    through_sns(invoke, ses_event("bounce_permanent", "Hard@Example.dk", contact_id=hard.contact_id, **sent))
    complaint = ses_event("complaint", "complains@example.dk", contact_id=complains.contact_id, **sent)
    through_sns(invoke, complaint)
    through_sns(invoke, complaint)
    for n in (1, 2, 2):  # the second one delivered twice
        through_sns(
            invoke,
            ses_event(
                "bounce_transient", "full@example.dk", contact_id=full.contact_id, feedbackId=f"soft-{n}", **sent
            ),
        )

    # Then the hard bounce and the complaint suppress their addresses for every purpose, each recorded as what it is
    hard_item = address_item(svc, tenant.tenant_id, "email", "hard@example.dk")
    complaint_item = address_item(svc, tenant.tenant_id, "email", "complains@example.dk")
    full_item = address_item(svc, tenant.tenant_id, "email", "full@example.dk")
    assert hard_item is not None
    assert complaint_item is not None
    assert full_item is not None
    assert hard_item["suppressions"]["email#*"]["reason"] == "hard_bounce"
    assert hard_item["hard_bounces"] == 1
    assert "complaints" not in hard_item
    assert complaint_item["suppressions"]["email#*"]["reason"] == "complaint"
    assert complaint_item["complaints"] == 1
    assert "hard_bounces" not in complaint_item

    # And two transient bounces are counted (a redelivery once) but do not suppress yet
    assert full_item["soft_bounces"] == 2
    assert "email#*" not in (full_item.get("suppressions") or {})

    # And the campaign counts the bounce and the complaint once each, on the sends they belong to
    view = body(admin("GET", f"/v1/admin/campaigns/{campaign_id}"))
    assert (view["counts"]["bounced"], view["counts"]["complaints"]) == (1, 1)
    record = svc.repo.get(contact_pk(tenant.tenant_id, hard.contact_id), send_sk(campaign_id))
    assert record is not None
    assert record["bounced_at"]

    # When a third transient bounce arrives
    through_sns(invoke, ses_event("bounce_transient", "full@example.dk", contact_id=None, campaign_id=None))

    # Then the address is suppressed as undeliverable
    full_item = address_item(svc, tenant.tenant_id, "email", "full@example.dk")
    assert full_item is not None
    assert full_item["suppressions"]["email#*"]["reason"] == "hard_bounce"
    assert full_item["suppressions"]["email#*"]["source"] == "transient_threshold"

    # And the next campaign's dry run excludes all three, by reason
    second = body(admin("POST", "/v1/admin/campaigns", json_body={**EXAMPLE, "segment": None}))["campaign_id"]
    report = body(admin("POST", f"/v1/admin/campaigns/{second}/dry-run"))
    assert report["included"] == 1
    assert report["excluded_by_reason"] == {"suppressed_complaint": 1, "suppressed_hard_bounce": 2}


def test_feedback_that_names_no_tenant_or_is_not_a_complaint_changes_nothing(
    aws: Resources, svc: Services, tenant: TenantFixture, invoke: Invoke
) -> None:
    seed(svc, tenant.tenant_id, [Person(email="someone@example.dk")])
    before = table_snapshot(aws.table_name)

    untagged = ses_event("bounce_permanent", "someone@example.dk", campaign_id=None, contact_id=None)
    del untagged["mail"]["tags"]["samtykke-tenant"]
    untagged["mail"]["headers"] = [h for h in untagged["mail"]["headers"] if h["name"] != "X-Samtykke-Tenant"]
    not_spam = ses_event(
        "complaint", "someone@example.dk", campaign_id=None, contact_id=None, complaintFeedbackType="not-spam"
    )
    other_tenant = ses_event("complaint", "someone@example.dk", campaign_id=None, contact_id=None)
    other_tenant["mail"]["tags"]["samtykke-tenant"] = ["nobody"]
    delivery = {"eventType": "Delivery", "mail": untagged["mail"], "delivery": {"recipients": ["someone@example.dk"]}}
    for message in (untagged, not_spam, other_tenant, delivery, "not an object"):
        assert through_sns(invoke, message)

    assert table_snapshot(aws.table_name) == before


def test_the_tenant_header_stands_in_when_ses_published_no_tags(
    aws: Resources, svc: Services, tenant: TenantFixture, invoke: Invoke
) -> None:
    event = ses_event("bounce_permanent", "noreply-tags@example.dk", campaign_id=None, contact_id=None)
    del event["mail"]["tags"]

    through_sns(invoke, event)

    item = address_item(svc, tenant.tenant_id, "email", "noreply-tags@example.dk")
    assert item is not None
    assert item["suppressions"]["email#*"]["reason"] == "hard_bounce"
