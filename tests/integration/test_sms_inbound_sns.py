"""Inbound SMS from AWS End User Messaging: the SNS topic, its consumer `sms_inbound`, the same STOP/START rules."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from samtykke.domain.consent import Channel
from samtykke.domain.suppression import SuppressionReason, suppression_reason
from samtykke.local.consumers import Consumers
from samtykke.local.lambdas import invoke as invoke_function
from samtykke.local.provision import Resources
from samtykke.resources import DEFAULT_REGION
from samtykke.services import contacts
from samtykke.services.context import Services
from tests.conftest import load_event
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.sms_helpers import EventFactory, Invoke, admin_call, table_snapshot

pytestmark = pytest.mark.integration

SENDER = "+4520123456"  # the sample event's originationNumber
NUMBER = "+4570202020"  # its destinationNumber


def sns_event(**message: Any) -> dict[str, Any]:
    """`events/sns/inbound_sms.json` with fields of its message replaced."""
    event = copy.deepcopy(load_event("sns/inbound_sms.json"))
    record = event["Records"][0]["Sns"]
    record["Message"] = json.dumps(json.loads(record["Message"]) | message)
    return event


@pytest.fixture
def routed(api_event: EventFactory, invoke: Invoke, tenant: TenantFixture) -> None:
    """The tenant has registered its End User Messaging number."""
    response = admin_call(api_event, invoke, tenant)("POST", "/v1/admin/sms/numbers", json_body={"number": NUMBER})
    assert response["statusCode"] == 201, response["body"]


@pytest.fixture
def subscriber(api_event: EventFactory, invoke: Invoke, tenant: TenantFixture) -> str:
    body = {"phone": SENDER, "purpose": ["e-marketing"], "locale": "sv"}
    response = invoke("consent_capture", api_event("consent_capture_json", json_body=body))
    assert response["statusCode"] == 201, response["body"]
    contact_id: str = body_of(response)["contact_id"]
    return contact_id


def _sms_status(svc: Services, tenant_id: str, contact_id: str) -> str:
    states = contacts.contact_summary(svc, tenant_id, contact_id).consents
    return next(s.status.value for s in states if s.channel is Channel.SMS)


def _suppressions(svc: Services, tenant_id: str, phone: str = SENDER) -> dict[str, Any]:
    keys = svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)
    return dict(
        (svc.repo.get_address(tenant_id, "phone", keys.blind_index("phone", phone)) or {}).get("suppressions") or {}
    )


@pytest.mark.usefixtures("routed")
def test_the_sample_event_stops_and_a_start_restarts(
    svc: Services, tenant: TenantFixture, subscriber: str, invoke: Invoke
) -> None:
    result = invoke("sms_inbound", load_event("sns/inbound_sms.json"))

    assert result == {"results": [{"status": 200, "action": "opt_out", "events": 1, "redelivery": False}]}
    assert _sms_status(svc, tenant.tenant_id, subscriber) == "withdrawn"
    assert suppression_reason(_suppressions(svc, tenant.tenant_id), Channel.SMS, "e-marketing") is (
        SuppressionReason.SMS_STOP
    )
    event = contacts.consent_log(svc, tenant.tenant_id, subscriber).events[-1]
    assert (event.actor.type.value, event.actor.id) == ("sms_provider", "aws-end-user-messaging")
    assert event.evidence is not None
    assert event.evidence.provider_message_id == "cae173d2-66b9-564c-8309-21f858e9fb84"
    assert event.evidence.at.isoformat() == "2026-11-23T09:15:00+00:00"  # the SNS notification's time

    result = invoke("sms_inbound", sns_event(messageBody="start", inboundMessageId="second"))
    assert result["results"][0]["action"] == "opt_in"
    assert _sms_status(svc, tenant.tenant_id, subscriber) == "granted"
    assert _suppressions(svc, tenant.tenant_id) == {}


@pytest.mark.usefixtures("routed", "subscriber")
def test_a_redelivered_notification_is_processed_once(aws: Resources, invoke: Invoke) -> None:
    invoke("sms_inbound", load_event("sns/inbound_sms.json"))
    after = table_snapshot(aws.table_name)

    result = invoke("sms_inbound", load_event("sns/inbound_sms.json"))

    assert result["results"][0] == {"status": 200, "action": "opt_out", "events": 0, "redelivery": True}
    assert table_snapshot(aws.table_name) == after


@pytest.mark.usefixtures("routed")
def test_a_stranger_is_suppressed_and_help_changes_nothing(
    aws: Resources, svc: Services, tenant: TenantFixture, invoke: Invoke
) -> None:
    before = table_snapshot(aws.table_name)
    assert invoke("sms_inbound", sns_event(messageBody="HJÄLP"))["results"][0]["action"] == "help"
    assert table_snapshot(aws.table_name) == before

    invoke("sms_inbound", sns_event(messageBody="Avsluta"))
    assert suppression_reason(_suppressions(svc, tenant.tenant_id), Channel.SMS, "e-marketing") is (
        SuppressionReason.SMS_STOP
    )


@pytest.mark.usefixtures("routed", "subscriber")
@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (sns_event(destinationNumber="+4570707070"), 404, "unknown_destination_number"),
        (sns_event(destinationNumber="12345"), 404, "unknown_destination_number"),  # an unregistered short code
        (sns_event(originationNumber="ALPHA"), 422, "invalid_phone"),
        (sns_event(inboundMessageId=""), 400, "malformed_message"),
    ],
)
def test_a_notification_that_cannot_succeed_is_dropped_with_its_code(
    aws: Resources, invoke: Invoke, event: dict[str, Any], status: int, code: str
) -> None:
    before = table_snapshot(aws.table_name)
    assert invoke("sms_inbound", event)["results"] == [{"status": status, "code": code}]
    for message in ("not json", "[]", json.dumps({"messageBody": "STOP"})):
        broken = sns_event()
        broken["Records"][0]["Sns"]["Message"] = message
        assert invoke("sms_inbound", broken)["results"] == [{"status": 400, "code": "malformed_message"}]
    assert table_snapshot(aws.table_name) == before


@pytest.fixture
def consumers(aws: Resources) -> Iterator[Consumers]:
    """The local stack's topic consumers, invoking the real handlers in this process."""
    session = boto3.session.Session(region_name=DEFAULT_REGION)
    running = Consumers(session.client("sqs"), invoke_function, region=DEFAULT_REGION)
    (topic,) = [t for t in aws.topics if t.spec.consumer == "sms_inbound"]
    running.add_topic(topic, session.client("sns"), queue_name="inbound-sms-subscription")
    running.start()
    yield running
    running.stop()


@pytest.mark.usefixtures("routed")
def test_a_message_published_to_the_topic_reaches_sms_inbound(
    aws: Resources, svc: Services, tenant: TenantFixture, subscriber: str, consumers: Consumers
) -> None:
    (topic,) = [t for t in aws.topics if t.spec.logical_id == "InboundSmsTopic"]
    message = json.loads(load_event("sns/inbound_sms.json")["Records"][0]["Sns"]["Message"])
    sns = boto3.client("sns", region_name=DEFAULT_REGION)

    sns.publish(TopicArn=topic.arn, Message=json.dumps(message | {"messageBody": "STOPP"}))
    consumers.drain(timeout=20)
    assert _sms_status(svc, tenant.tenant_id, subscriber) == "withdrawn"

    sns.publish(TopicArn=topic.arn, Message=json.dumps(message | {"messageBody": "START", "inboundMessageId": "n2"}))
    consumers.drain(timeout=20)
    assert _sms_status(svc, tenant.tenant_id, subscriber) == "granted"
