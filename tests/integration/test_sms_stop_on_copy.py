"""STOP in two calls: the number's address item carries a copy of its contact's head, and every way it falls back."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from samtykke.adapters.change_counters import ChangeCounters
from samtykke.adapters.repository import ADDR, PROFILE, address_pk, contact_pk, to_attributes
from samtykke.domain.access import Principal, Role
from samtykke.domain.consent import Channel
from samtykke.domain.suppression import SuppressionReason, suppression_reason
from samtykke.services import contacts
from samtykke.services.catalog import CONFIG_COUNTER
from samtykke.services.context import Services
from samtykke.services.erasure import erase_contact
from samtykke.services.ledger import PhoneHead
from tests.bench.calls import counting, our_clients
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.evidence_support import confirm_sms_link
from tests.integration.sms_helpers import TOKEN, EventFactory, Invoke, admin_call, twilio_event, twilio_params
from tests.integration.test_unsubscribe_one_call import commits_then_loses_the_reply

pytestmark = pytest.mark.integration

PHONE = "+4520123456"


@pytest.fixture
def subscriber(api_event: EventFactory, invoke: Invoke, tenant: TenantFixture) -> str:
    """A contact granted e-marketing by SMS, with Twilio set up; this container then holds the configuration."""
    admin = admin_call(api_event, invoke, tenant)
    assert admin("PUT", "/v1/admin/settings/sms/twilio", json_body={"auth_token": TOKEN})["statusCode"] == 200
    body = {"email": "sms@example.dk", "phone": "20 12 34 56", "purpose": ["e-marketing"], "locale": "da"}
    response = invoke("consent_capture", api_event("consent_capture_json", json_body=body))
    assert response["statusCode"] == 201, response["body"]
    assert confirm_sms_link(invoke, api_event, PHONE)["statusCode"] == 200
    contact_id: str = body_of(response)["contact_id"]
    return contact_id


def stop(invoke: Invoke, api_event: EventFactory, sid: str, body: str = "STOP") -> dict[str, Any]:
    response = invoke("sms_webhooks", twilio_event(api_event, twilio_params(body, sid=sid)))
    assert response["statusCode"] == 200, response["body"]
    return response


def blind_index(svc: Services) -> str:
    return svc.keyring.tenant_keys("acme", svc.catalogs.get("acme").root_key_blob).blind_index("phone", PHONE)


def address_item(svc: Services) -> dict[str, Any]:
    return svc.repo.get_address("acme", "phone", blind_index(svc)) or {}


def profile_item(svc: Services, contact_id: str) -> dict[str, Any]:
    return svc.repo.get(contact_pk("acme", contact_id), PROFILE, consistent=True) or {}


def sms_withdrawals(svc: Services, contact_id: str) -> int:
    events = contacts.consent_log(svc, "acme", contact_id).events
    return sum(1 for e in events if e.type.value == "withdraw" and e.channel is Channel.SMS)


def test_every_write_keeps_the_numbers_copy_of_the_head_and_a_stop_takes_two_calls(
    svc: Services, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    profile = profile_item(svc, subscriber)
    copied = PhoneHead.from_item(address_item(svc).get("head"))
    assert copied is not None
    assert (copied.seq, copied.last_hash, copied.locale) == (profile["seq"], profile["last_hash"], "da")
    assert {p: s.value for p, (s, _) in copied.sms.items()} == {"e-marketing": "granted"}

    stop(invoke, api_event, "SMhello", body="hello")  # a warm container: it has read the SMS settings once
    with counting(our_clients()) as calls:
        response = stop(invoke, api_event, "SMstop1")

    assert calls.as_dict() == {"dynamodb:GetItem": 1, "dynamodb:TransactWriteItems": 1}
    assert "Du modtager ikke flere SMS" in response["body"]  # the contact's own language, from the copy
    log = contacts.consent_log(svc, "acme", subscriber)
    assert log.chain_intact
    assert log.events[-1].evidence is not None
    assert log.events[-1].evidence.keyword == "STOP"  # sealed to the contact's public key, opened with its key
    reason = suppression_reason(address_item(svc).get("suppressions") or {}, Channel.SMS, "e-marketing")
    assert reason is SuppressionReason.SMS_STOP
    after = PhoneHead.from_item(address_item(svc).get("head"))
    assert after is not None
    assert (after.seq, after.last_hash) == (profile_item(svc, subscriber)["seq"], log.events[-1].hash)
    assert {p: s.value for p, (s, _) in after.sms.items()} == {"e-marketing": "withdrawn"}


def test_a_redelivered_stop_changes_nothing(
    svc: Services, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    stop(invoke, api_event, "SMstop1")
    seq = profile_item(svc, subscriber)["seq"]

    stop(invoke, api_event, "SMstop1")
    stop(invoke, api_event, "SMstop2")  # a second STOP: nothing left to withdraw

    assert sms_withdrawals(svc, subscriber) == 1
    assert profile_item(svc, subscriber)["seq"] == seq


def test_a_copy_that_fell_behind_sends_the_stop_the_usual_way(
    aws: Any, svc: Services, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    stale = address_item(svc)["head"]
    signup = {"phone": "20 12 34 56", "purpose": ["sales-and-service"]}
    assert invoke("consent_capture", api_event("consent_capture_json", json_body=signup))["statusCode"] == 201
    boto3.client("dynamodb").update_item(  # as if a write had not copied its head (an unsubscribe by email)
        TableName=aws.table_name,
        Key=to_attributes({"pk": address_pk("acme", "phone", blind_index(svc)), "sk": ADDR}),
        UpdateExpression="SET head = :h",
        ExpressionAttributeValues=to_attributes({":h": stale}),
    )

    with counting(our_clients()) as calls:
        stop(invoke, api_event, "SMstop1")

    assert calls.counts[("dynamodb", "TransactWriteItems")] == 2  # the refused one, then the usual write
    assert sms_withdrawals(svc, subscriber) == 1
    assert contacts.consent_log(svc, "acme", subscriber).chain_intact


def test_a_number_the_profile_no_longer_names_goes_the_usual_way(
    aws: Any, svc: Services, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    boto3.client("dynamodb").update_item(  # the contact's own number is now another one
        TableName=aws.table_name,
        Key=to_attributes({"pk": contact_pk("acme", subscriber), "sk": PROFILE}),
        UpdateExpression="SET phone_bidx = :other",
        ExpressionAttributeValues=to_attributes({":other": "ab" * 32}),
    )

    with counting(our_clients()) as calls:
        stop(invoke, api_event, "SMstop1")

    # The copy's write is refused on the profile's number; the usual path suppresses this number on its own, then
    # withdraws (a STOP from a number that was the contact's still speaks for it): three transactions.
    assert calls.counts[("dynamodb", "TransactWriteItems")] == 3
    assert sms_withdrawals(svc, subscriber) == 1
    reason = suppression_reason(address_item(svc).get("suppressions") or {}, Channel.SMS, "e-marketing")
    assert reason is SuppressionReason.SMS_STOP


def test_a_configuration_change_elsewhere_sends_the_stop_the_usual_way(
    svc: Services, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    ChangeCounters(svc.settings.table_name).bump("acme", CONFIG_COUNTER)

    stop(invoke, api_event, "SMstop1")

    assert sms_withdrawals(svc, subscriber) == 1
    assert contacts.consent_log(svc, "acme", subscriber).chain_intact


def test_a_committed_stop_whose_reply_was_lost_is_written_once(
    svc: Services, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    with commits_then_loses_the_reply():
        response = stop(invoke, api_event, "SMstop1")

    assert "Du modtager ikke flere SMS" in response["body"]
    assert sms_withdrawals(svc, subscriber) == 1
    assert contacts.consent_log(svc, "acme", subscriber).chain_intact


def test_erasure_removes_the_copy_and_a_later_stop_writes_nothing_to_the_erased_contact(
    svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    erase_contact(svc, Principal(tenant.tenant_id, tenant.key_id, "api_key", Role.ADMIN), subscriber, ip=None)
    erased = profile_item(svc, subscriber)

    assert "head" not in address_item(svc)
    assert "contact_id" not in address_item(svc)
    stop(invoke, api_event, "SMstop1")
    assert profile_item(svc, subscriber) == erased
    assert "head" not in address_item(svc)
