"""The one-call unsubscribe: a link's signed head hint, written on without a read, and every way it falls back."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from cryptography.exceptions import InvalidTag

from samtykke.adapters import aws as aws_clients
from samtykke.adapters.change_counters import ChangeCounters
from samtykke.adapters.crypto import SEALED_FOR_CONTACT
from samtykke.adapters.repository import PROFILE, contact_pk
from samtykke.domain import tokens
from samtykke.domain.consent import Channel
from samtykke.domain.links import LinkUse, signing_label
from samtykke.domain.suppression import suppression_key
from samtykke.services.catalog import CONFIG_COUNTER
from samtykke.services.contacts import consent_log
from samtykke.services.context import Services
from samtykke.services.ledger import open_evidence
from samtykke.services.links import rotate_link_key
from tests.bench.calls import counting, our_clients
from tests.integration.conftest import TenantFixture
from tests.integration.test_unsubscribe import admin_links, page_event, signup, suppressions, token_of

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
ApiEvent = Callable[..., dict[str, Any]]


@pytest.fixture
def anna(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture) -> str:
    return signup(invoke, api_event, {"email": "anna@example.dk", "purpose": ["e-marketing"], "locale": "da"})


def one_click(invoke: Invoke, api_event: ApiEvent, url: str) -> dict[str, Any]:
    event = page_event(api_event, "unsubscribe_one_click", "u", token_of(url))
    response = invoke("unsubscribe", event)
    assert response["statusCode"] == 200, response["body"]
    return response


def events_of(svc: Services, contact_id: str) -> list[dict[str, Any]]:
    """The stored event records, oldest first."""
    page = boto3.client("dynamodb").query(
        TableName=svc.settings.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :event)",
        ExpressionAttributeValues={":pk": {"S": contact_pk("acme", contact_id)}, ":event": {"S": "EVENT#"}},
        ConsistentRead=True,
    )
    return [svc.repo.get(item["pk"]["S"], item["sk"]["S"], consistent=True) or {} for item in page["Items"]]


def withdrawals(svc: Services, contact_id: str) -> list[dict[str, Any]]:
    return [e for e in events_of(svc, contact_id) if e["type"] == "withdraw" and e["purpose"] == "e-marketing"]


def chain_intact(svc: Services, contact_id: str) -> bool:
    """What the admin consent log says of the chain, having opened every event's evidence."""
    return consent_log(svc, "acme", contact_id).chain_intact


def another_container(svc: Services) -> Services:
    """The same stack as seen from another Lambda container: its own cached configuration."""
    return Services(settings=svc.settings, repo=svc.repo, keyring=svc.keyring, mailer=svc.mailer, clock=svc.clock)


@contextmanager
def commits_then_loses_the_reply() -> Iterator[None]:
    """The next TransactWriteItems commits, and its answer never arrives."""
    client = aws_clients.dynamodb()
    original = client.transact_write_items

    def lost(**kwargs: Any) -> Any:
        client.transact_write_items = original  # type: ignore[method-assign]
        original(**kwargs)
        raise ReadTimeoutError(endpoint_url="https://dynamodb.eu-north-1.amazonaws.com")

    client.transact_write_items = lost  # type: ignore[method-assign]
    try:
        yield
    finally:
        client.transact_write_items = original  # type: ignore[method-assign]


def test_a_fresh_link_unsubscribes_in_one_call_and_the_evidence_opens_only_with_the_contacts_key(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    url = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]  # this container now holds the catalog

    with counting(our_clients()) as calls:
        response = one_click(invoke, api_event, url)

    assert calls.as_dict() == {"dynamodb:TransactWriteItems": 1}
    assert 'lang="da"' in response["body"]
    [withdrawal] = withdrawals(svc, anna)
    assert chain_intact(svc, anna)
    assert suppression_key(Channel.EMAIL, "e-marketing") in suppressions(svc, "acme", "email", "anna@example.dk")
    sealed = withdrawal["evidence"]
    assert base64.b64decode(sealed)[:1] == SEALED_FOR_CONTACT
    profile = svc.repo.get(contact_pk("acme", anna), PROFILE, consistent=True) or {}
    keys = svc.keyring.tenant_keys("acme", svc.catalogs.get("acme").root_key_blob)
    evidence = open_evidence(keys.contact_box(anna, profile["wrapped_key"]), withdrawal["event_id"], sealed)
    assert evidence is not None
    assert json.loads(evidence.note or "{}")["via"] == "one-click"
    other = keys.new_contact_box(anna)[0]  # a different key for the same contact id cannot open it
    with pytest.raises(InvalidTag):
        open_evidence(other, withdrawal["event_id"], sealed)


def test_a_replayed_link_changes_nothing(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    url = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]
    one_click(invoke, api_event, url)
    head = svc.repo.get(contact_pk("acme", anna), PROFILE, consistent=True) or {}

    for _ in range(3):
        one_click(invoke, api_event, url)

    assert len(withdrawals(svc, anna)) == 1
    assert (svc.repo.get(contact_pk("acme", anna), PROFILE, consistent=True) or {})["seq"] == head["seq"]


def test_a_link_whose_contact_moved_on_still_withdraws_once_on_the_current_head(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    url = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]
    signup(invoke, api_event, {"email": "anna@example.dk", "purpose": ["sales-and-service"]})  # the log moves on

    one_click(invoke, api_event, url)

    assert len(withdrawals(svc, anna)) == 1
    assert chain_intact(svc, anna)


def test_a_link_signed_after_the_withdrawal_writes_nothing_more(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    one_click(invoke, api_event, admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"])
    later = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]  # hints the head after the withdrawal
    head = svc.repo.get(contact_pk("acme", anna), PROFILE, consistent=True) or {}

    one_click(invoke, api_event, later)

    assert len(withdrawals(svc, anna)) == 1
    assert (svc.repo.get(contact_pk("acme", anna), PROFILE, consistent=True) or {})["seq"] == head["seq"]


def test_a_key_retired_by_another_container_is_refused_though_this_one_still_holds_the_old_configuration(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    url = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]
    rotate_link_key(another_container(svc), "acme", grace_days=0)
    assert svc.catalogs.held_at("acme") is not None  # this container still accepts the old key, until it checks

    response = invoke("unsubscribe", page_event(api_event, "unsubscribe_one_click", "u", token_of(url)))

    assert (response["statusCode"], response["headers"]["X-Samtykke-Error"]) == (400, "link_expired")
    assert withdrawals(svc, anna) == []


def test_a_configuration_change_elsewhere_sends_the_write_the_usual_way(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    url = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]
    ChangeCounters(svc.settings.table_name).bump("acme", CONFIG_COUNTER)  # another container changed a setting

    with counting(our_clients()) as calls:
        one_click(invoke, api_event, url)

    # The one-call write is refused on the counter; then the counter, the configuration, the contact and the write.
    assert calls.as_dict() == {"dynamodb:TransactWriteItems": 2, "dynamodb:GetItem": 1, "dynamodb:Query": 2}
    assert len(withdrawals(svc, anna)) == 1


def test_a_committed_write_whose_reply_was_lost_answers_once(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    url = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]

    with commits_then_loses_the_reply():
        response = one_click(invoke, api_event, url)

    assert 'lang="da"' in response["body"]
    assert len(withdrawals(svc, anna)) == 1
    assert chain_intact(svc, anna)


def test_an_altered_hint_does_not_verify(
    svc: Services, tenant: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    url = admin_links(invoke, api_event, tenant, anna)["unsubscribe_url"]
    token = token_of(url)
    claims = tokens.peek(token)
    claims["h"]["s"] += 1
    forged = tokens.sign(b"\x00" * 32, LinkUse.UNSUBSCRIBE, claims)
    keys = svc.keyring.tenant_keys("acme", svc.catalogs.get("acme").root_key_blob)
    resigned_elsewhere = tokens.sign(keys.signing_key(signing_label(LinkUse.UNSUBSCRIBE, 1)), "preferences", claims)
    altered = f"{forged.split('.')[0]}.{token.split('.')[1]}"

    for bad in (forged, resigned_elsewhere, altered):
        response = invoke("unsubscribe", page_event(api_event, "unsubscribe_one_click", "u", bad))
        assert response["statusCode"] == 400, bad

    assert withdrawals(svc, anna) == []
