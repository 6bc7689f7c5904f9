"""Unsubscribe links, RFC 8058 one-click, the preference centre and fresh links, through the real handlers on moto."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import boto3
import pytest

from samtykke.adapters import aws as aws_clients
from samtykke.adapters.repository import PROFILE, contact_pk, to_attributes
from samtykke.domain import tokens
from samtykke.domain.access import Role
from samtykke.domain.addresses import normalise_phone
from samtykke.domain.consent import Channel
from samtykke.domain.links import LinkUse, signing_label
from samtykke.local.outbox import read_outbox
from samtykke.models.tenant import SubProcessor
from samtykke.services.context import Services
from samtykke.services.links import LinkSigner
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.evidence_support import confirm_sms_link

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
ApiEvent = Callable[..., dict[str, Any]]
PRIVACY = "https://www.acme.example/privacy"


# --- helpers -------------------------------------------------------------------------------------------


def table_items(aws: Any) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": aws.table_name}
    while True:
        page = client.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def signup(invoke: Invoke, api_event: ApiEvent, body: dict[str, Any]) -> str:
    response = invoke("consent_capture", api_event("consent_capture_json", json_body=body))
    assert response["statusCode"] == 201, response["body"]
    contact_id: str = body_of(response)["contact_id"]
    mails = read_outbox(to=body["email"]) if body.get("email") else []
    if mails:  # confirm the double opt-in, so that e-marketing by email is granted
        message = email.message_from_string(mails[-1]["raw"], policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        match = re.search(r"/v1/public/confirm/(\S+)", text)
        if match and "confirm" in text:
            token = match.group(1)
            event = api_event("confirm_post", path=f"/v1/public/confirm/{token}", path_parameters={"token": token})
            assert invoke("consent_capture", event)["statusCode"] == 200
    phone = normalise_phone(body["phone"], "DK") if body.get("phone") else None
    if phone and any(m["channel"] == "sms" for m in read_outbox(to=phone)):  # and the SMS double opt-in
        assert confirm_sms_link(invoke, api_event, phone)["statusCode"] == 200
    return contact_id


def admin_links(
    invoke: Invoke,
    api_event: ApiEvent,
    tenant: TenantFixture,
    contact_id: str,
    purpose: str = "e-marketing",
    channel: str = "email",
) -> dict[str, Any]:
    event = api_event(
        "admin_contact_links",
        path=f"/v1/admin/contacts/{contact_id}/links",
        path_parameters={"contact_id": contact_id},
        query={"purpose": purpose, "channel": channel, "message_ref": "cmp_spring"},
        authorizer=tenant.authorizer(),
    )
    response = invoke("links_admin", event)
    assert response["statusCode"] == 200, response["body"]
    links: dict[str, Any] = body_of(response)
    return links


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def page_event(api_event: ApiEvent, name: str, prefix: str, token: str, **changes: Any) -> dict[str, Any]:
    return api_event(name, path=f"/{prefix}/{token}", path_parameters={"token": token}, **changes)


def consent_log(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture, address: str) -> dict[str, Any]:
    event = api_event(
        "admin_request",
        path="/v1/admin/consent-log",
        path_parameters={"proxy": "consent-log"},
        query={"email": address},
        authorizer=tenant.authorizer(),
    )
    response = invoke("admin_api", event)
    assert response["statusCode"] == 200, response["body"]
    log: dict[str, Any] = body_of(response)
    return log


def states(log: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The current state per (purpose, channel): the status of its last event."""
    return {(e["purpose"], e["channel"]): e["status"] for e in log["events"]}


def suppressions(svc: Services, tenant_id: str, kind: str, value: str) -> dict[str, Any]:
    keys = svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)
    address = svc.repo.get_address(tenant_id, kind, keys.blind_index(kind, value)) or {}
    found: dict[str, Any] = address.get("suppressions") or {}
    return found


def audience(aws: Any, tenant_id: str, purpose: str, channel: str) -> set[str]:
    page = boto3.client("dynamodb").query(
        TableName=aws.table_name,
        IndexName="audience",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant_id}#AUD#{purpose}#{channel}"}},
    )
    return {item["gsi1sk"]["S"] for item in page["Items"]}


@contextmanager
def transactions() -> Iterator[list[list[dict[str, Any]]]]:
    """Records every TransactWriteItems the handlers make (the items of each call)."""
    client = aws_clients.dynamodb()
    original = client.transact_write_items
    calls: list[list[dict[str, Any]]] = []

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs["TransactItems"])
        return original(**kwargs)

    client.transact_write_items = spy  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        client.transact_write_items = original  # type: ignore[method-assign]


@pytest.fixture
def acme(svc: Services, tenant: TenantFixture) -> TenantFixture:
    """The tenant with a privacy policy and one sub-processor."""
    svc.repo.update_existing(
        "T#acme",
        "META",
        {
            "privacy_policy_url": PRIVACY,
            "sub_processors": [
                SubProcessor(name="Mailjet", purpose="Newsletter delivery", agreement_date="2024-03-01").model_dump(
                    mode="json"
                )
            ],
        },
    )
    svc.catalogs.invalidate("acme")
    return tenant


@pytest.fixture
def anna(invoke: Invoke, api_event: ApiEvent, acme: TenantFixture) -> str:
    """A Danish contact, granted e-marketing by email (confirmed) and sales-and-service by email."""
    return signup(
        invoke,
        api_event,
        {"email": "anna@example.dk", "purpose": ["e-marketing", "sales-and-service"], "locale": "da"},
    )


# --- the unsubscribe page ------------------------------------------------------------------------------


def test_the_page_is_localised_accessible_and_a_get_changes_nothing(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given Anna's unsubscribe link
    token = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])
    before = table_items(aws)

    # When a link scanner (or Anna) opens it, twice
    for _ in range(2):
        response = invoke("unsubscribe", page_event(api_event, "unsubscribe_page", "u", token))

        # Then it gets a small Danish page with one button, the tenant and its privacy policy
        assert response["statusCode"] == 200, response["body"]
        page = response["body"]
        assert '<html lang="da">' in page
        assert "Vil du ikke længere modtage E-markedsføring via e-mail fra Acme A/S?" in page
        assert page.count("<button") == 1
        assert ">Afmeld</button>" in page
        assert 'name="scope" value="all"' in page
        assert "Alt fra Acme A/S, på alle kanaler" in page
        assert '<label for="reason">' in page
        assert '<textarea id="reason" name="reason"' in page
        assert f'href="{PRIVACY}"' in page
        assert "Privatlivspolitik" in page
        assert "<script" not in page
        headers = response["headers"]
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]

    # And nothing was written
    assert table_items(aws) == before
    assert anna in audience(aws, "acme", "e-marketing", "email")


def test_the_page_speaks_the_locale_the_contact_signed_up_in(
    acme: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given a contact who signed up in Norwegian on a Danish tenant
    contact = signup(
        invoke, api_event, {"email": "ola@example.no", "purpose": ["sales-and-service"], "locale": "nb-NO"}
    )
    token = token_of(admin_links(invoke, api_event, acme, contact, purpose="sales-and-service")["unsubscribe_url"])

    # When the page opens in a browser that prefers Danish
    page = invoke("unsubscribe", page_event(api_event, "unsubscribe_page", "u", token))["body"]

    # Then it is Norwegian, the contact's own language
    assert '<html lang="nb">' in page
    assert "Vil du ikke lenger motta Salg og kundeservice via e-post fra Acme A/S?" in page
    assert ">Meld meg av</button>" in page


def test_a_post_withdraws_and_suppresses_in_one_transaction(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    token = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])
    event = page_event(api_event, "unsubscribe_post_form", "u", token)

    # When Anna presses the button, with a reason
    with transactions() as calls:
        response = invoke("unsubscribe", event)

    # Then she sees the Danish confirmation: a 200, never a redirect
    assert response["statusCode"] == 200, response["body"]
    assert "Location" not in response.get("headers", {})
    assert "Du er afmeldt" in response["body"]
    assert "Du modtager ikke længere E-markedsføring via e-mail fra Acme A/S." in response["body"]

    # And one transaction carried the withdrawal event, the new state and the address's suppression
    (items,) = calls
    keys = [(a.get("Put") or a.get("Update") or {}).get("Item", {}).get("sk", {}).get("S") for a in items]
    assert any(k and k.startswith("EVENT#") for k in keys)
    assert "STATE#e-marketing#email" in keys
    assert any("SET suppressions." in a.get("Update", {}).get("UpdateExpression", "") for a in items)

    # And the log shows who, how and why
    log = consent_log(invoke, api_event, acme, "anna@example.dk")
    assert log["chain_intact"] is True
    last = log["events"][-1]
    assert (last["type"], last["purpose"], last["channel"], last["status"]) == (
        "withdraw",
        "e-marketing",
        "email",
        "withdrawn",
    )
    assert (last["source"], last["actor"]["type"]) == ("unsubscribe-link", "contact")
    assert last["evidence"]["ip"] == "203.0.113.7"
    assert last["evidence"]["user_agent"].startswith("Mozilla/5.0")
    assert last["evidence"]["at"]
    assert json.loads(last["evidence"]["note"]) == {
        "via": "page",
        "scope": "purpose",
        "message_ref": "cmp_spring",
        "reason": "Too many mails",
    }
    assert states(log)[("sales-and-service", "email")] == "granted"  # only the named purpose

    # And campaigns stop at once: out of the audience index, suppressed on the address
    assert anna not in audience(aws, "acme", "e-marketing", "email")
    record = suppressions(svc, "acme", "email", "anna@example.dk")["email#e-marketing"]
    assert (record["reason"], record["source"]) == ("unsubscribed", "unsubscribe-link")

    # And nothing personal is stored in plaintext
    dump = json.dumps(table_items(aws), default=str).lower()
    assert "too many mails" not in dump
    assert "anna@example" not in dump
    assert "203.0.113.7" not in dump


@pytest.mark.parametrize("event_name", ["unsubscribe_one_click", "unsubscribe_one_click_multipart"])
def test_rfc_8058_one_click_withdraws_and_a_second_post_changes_nothing(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke, event_name: str
) -> None:
    token = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])
    event = page_event(api_event, event_name, "u", token)

    # When a mail provider POSTs List-Unsubscribe=One-Click (form-urlencoded, or multipart in base64)
    first = invoke("unsubscribe", event)

    # Then the consent is withdrawn, with the one-click recorded as such
    assert first["statusCode"] == 200, first["body"]
    log = consent_log(invoke, api_event, acme, "anna@example.dk")
    assert states(log)[("e-marketing", "email")] == "withdrawn"
    note = json.loads(log["events"][-1]["evidence"]["note"])
    assert (note["via"], note["scope"]) == ("one-click", "purpose")
    assert suppressions(svc, "acme", "email", "anna@example.dk")["email#e-marketing"]["reason"] == "unsubscribed"

    # And a second POST answers 200 and writes nothing
    before = table_items(aws)
    second = invoke("unsubscribe", event)
    assert second["statusCode"] == 200
    assert table_items(aws) == before


def test_unsubscribing_from_everything_withdraws_every_consent_on_every_channel(
    aws: Any, svc: Services, acme: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given a contact with email and phone, granted e-marketing (email, SMS) and sales-and-service (email, phone)
    contact = signup(
        invoke,
        api_event,
        {
            "email": "all@example.dk",
            "phone": "+45 20 11 22 33",
            "purpose": ["e-marketing", "sales-and-service"],
            "locale": "nl",
        },
    )
    before = states(consent_log(invoke, api_event, acme, "all@example.dk"))
    assert set(before.values()) == {"granted"}
    assert len(before) == 4
    token = token_of(admin_links(invoke, api_event, acme, contact)["unsubscribe_url"])

    # When they choose "everything" on the page
    event = page_event(api_event, "unsubscribe_post_form", "u", token, body="scope=all&reason=")
    response = invoke("unsubscribe", event)

    # Then every consent is withdrawn, in Dutch, and every channel's address is suppressed for every purpose
    assert response["statusCode"] == 200, response["body"]
    assert "Je bent afgemeld voor alles van Acme A/S, via alle kanalen." in response["body"]
    log = consent_log(invoke, api_event, acme, "all@example.dk")
    assert set(states(log).values()) == {"withdrawn"}
    assert json.loads(log["events"][-1]["evidence"]["note"])["scope"] == "all"
    assert "reason" not in json.loads(log["events"][-1]["evidence"]["note"])
    assert suppressions(svc, "acme", "email", "all@example.dk")["email#*"]["reason"] == "unsubscribed"
    phone = suppressions(svc, "acme", "phone", "+4520112233")
    assert {phone["sms#*"]["reason"], phone["phone#*"]["reason"]} == {"unsubscribed"}
    for purpose, channel in before:
        assert contact not in audience(aws, "acme", purpose, channel)


def test_an_already_withdrawn_consent_still_gets_its_suppression_once(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given Anna withdrew e-marketing in the preference centre, and the suppression was later lifted by hand
    links = admin_links(invoke, api_event, acme, anna)
    withdraw = page_event(api_event, "preferences_post", "p", token_of(links["preference_url"]))
    assert invoke("unsubscribe", withdraw)["statusCode"] == 200
    keys = svc.keyring.tenant_keys("acme", svc.catalogs.get("acme").root_key_blob)
    blind = keys.blind_index("email", "anna@example.dk")
    svc.repo.set_address_suppression("acme", "email", blind, "email#e-marketing", None)

    # When her unsubscribe link is used
    one_click = page_event(api_event, "unsubscribe_one_click", "u", token_of(links["unsubscribe_url"]))
    assert invoke("unsubscribe", one_click)["statusCode"] == 200

    # Then no new event is logged, but the address is suppressed again; and a repeat writes nothing
    log = consent_log(invoke, api_event, acme, "anna@example.dk")
    assert [e["source"] for e in log["events"] if e["type"] == "withdraw"] == ["preference-centre"]
    assert suppressions(svc, "acme", "email", "anna@example.dk")["email#e-marketing"]["reason"] == "unsubscribed"
    before = table_items(aws)
    assert invoke("unsubscribe", one_click)["statusCode"] == 200
    assert table_items(aws) == before


# --- bad links: 4xx, and nothing written ---------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forgeries(svc: Services, make_tenant: Callable[..., TenantFixture], token: str, contact: str) -> dict[str, str]:
    payload, mac = token.split(".")
    claims = tokens.peek(token)
    other = make_tenant("other")
    other_keys = svc.keyring.tenant_keys(other.tenant_id, svc.catalogs.get(other.tenant_id).root_key_blob)
    other_signer = LinkSigner(other_keys, 1, "https://x")
    acme_signer = LinkSigner.for_tenant(svc, "acme", "https://x")
    renamed = json.dumps({**claims, "t": "other"}, separators=(",", ":"), sort_keys=True).encode()
    everything = json.dumps({**claims, "p": "sales-and-service"}, separators=(",", ":"), sort_keys=True).encode()
    return {
        "altered purpose": f"{_b64(everything)}.{mac}",
        "altered mac": f"{payload}.{'A' * len(mac)}",
        "no mac": payload,
        "garbage": "not-a-token",
        "tenant renamed": f"{_b64(renamed)}.{mac}",
        "another tenant's key claiming acme": tokens.sign(
            other_keys.signing_key(signing_label(LinkUse.UNSUBSCRIBE, 1)), LinkUse.UNSUBSCRIBE, claims
        ),
        "another tenant's link": token_of(other_signer.unsubscribe(contact, "e-marketing", Channel.EMAIL, "m")),
        "a preference token": token_of(acme_signer.preferences(contact)),
        "a future key version": token_of(
            LinkSigner(acme_signer.keys, 7, "https://x").unsubscribe(contact, "e-marketing", Channel.EMAIL, "m")
        ),
        "a contact that never existed": token_of(
            acme_signer.unsubscribe("con_0000000000000000000000000000abcd", "e-marketing", Channel.EMAIL, "m")
        ),
    }


def test_forged_altered_and_foreign_tokens_get_4xx_and_change_nothing(
    aws: Any,
    svc: Services,
    acme: TenantFixture,
    anna: str,
    make_tenant: Callable[..., TenantFixture],
    api_event: ApiEvent,
    invoke: Invoke,
) -> None:
    token = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])
    forgeries = _forgeries(svc, make_tenant, token, anna)
    before = table_items(aws)

    for name, forged in forgeries.items():
        for event_name in ("unsubscribe_page", "unsubscribe_post_form", "unsubscribe_one_click"):
            response = invoke("unsubscribe", page_event(api_event, event_name, "u", forged))
            assert 400 <= response["statusCode"] < 500, (name, event_name, response["statusCode"])
            assert response["headers"]["X-Samtykke-Error"] in {
                "invalid_token",
                "link_expired",
                "contact_not_found",
            }, name
            assert f'data-error-code="{response["headers"]["X-Samtykke-Error"]}"' in response["body"]

    # An unsubscribe token is no preference link either
    response = invoke("unsubscribe", page_event(api_event, "preferences_page", "p", token))
    assert (response["statusCode"], response["headers"]["X-Samtykke-Error"]) == (400, "invalid_token")

    assert table_items(aws) == before
    assert states(consent_log(invoke, api_event, acme, "anna@example.dk"))[("e-marketing", "email")] == "granted"


def test_an_erased_contacts_link_gets_404_and_changes_nothing(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    links = admin_links(invoke, api_event, acme, anna)
    boto3.client("dynamodb").update_item(
        TableName=aws.table_name,
        Key=to_attributes({"pk": contact_pk("acme", anna), "sk": PROFILE}),
        UpdateExpression="SET erased = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    before = table_items(aws)

    for event_name, prefix, url in (
        ("unsubscribe_page", "u", links["unsubscribe_url"]),
        ("unsubscribe_one_click", "u", links["unsubscribe_url"]),
        ("preferences_page", "p", links["preference_url"]),
        ("preferences_post", "p", links["preference_url"]),
    ):
        response = invoke("unsubscribe", page_event(api_event, event_name, prefix, token_of(url)))
        assert (response["statusCode"], response["headers"]["X-Samtykke-Error"]) == (404, "contact_not_found")

    assert table_items(aws) == before


# --- key rotation --------------------------------------------------------------------------------------


def _rotate(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture, grace_days: int) -> dict[str, Any]:
    event = api_event("admin_link_key_rotate", json_body={"grace_days": grace_days}, authorizer=tenant.authorizer())
    response = invoke("links_admin", event)
    assert response["statusCode"] == 200, response["body"]
    status: dict[str, Any] = body_of(response)
    return status


def test_links_of_the_previous_key_work_until_the_grace_period_ends(
    svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    old = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])
    assert tokens.peek(old)["k"] == 1

    # When an admin rotates the link key with 30 days' grace
    status = _rotate(invoke, api_event, acme, 30)
    assert (status["version"], status["previous_version"]) == (2, 1)

    # Then new links use version 2, and both versions work within the grace period
    new = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])
    assert tokens.peek(new)["k"] == 2
    now = svc.clock()
    svc.clock = lambda: now + timedelta(days=29)
    for token in (old, new):
        assert invoke("unsubscribe", page_event(api_event, "unsubscribe_page", "u", token))["statusCode"] == 200

    # And after it, the old link is refused (with a form for a fresh link), the new one still works
    svc.clock = lambda: now + timedelta(days=31)
    refused = invoke("unsubscribe", page_event(api_event, "unsubscribe_page", "u", old))
    assert (refused["statusCode"], refused["headers"]["X-Samtykke-Error"]) == (400, "link_expired")
    assert 'action="../v1/public/acme/preference-link"' in refused["body"]
    assert invoke("unsubscribe", page_event(api_event, "unsubscribe_page", "u", new))["statusCode"] == 200


def test_a_rotation_without_grace_retires_the_old_links_at_once(
    acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    v1 = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])
    _rotate(invoke, api_event, acme, 30)
    v2 = token_of(admin_links(invoke, api_event, acme, anna)["unsubscribe_url"])

    # A second rotation ends version 1 at once; grace 0 ends version 2 at once as well
    status = _rotate(invoke, api_event, acme, 0)

    assert status["version"] == 3
    for token in (v1, v2):
        response = invoke("unsubscribe", page_event(api_event, "unsubscribe_page", "u", token))
        assert (response["statusCode"], response["headers"]["X-Samtykke-Error"]) == (400, "link_expired")
    get = api_event("admin_link_key_rotate", authorizer=acme.authorizer(Role.VIEWER))
    get["rawPath"] = get["requestContext"]["http"]["path"] = "/v1/admin/settings/link-key"
    get["requestContext"]["http"]["method"] = "GET"
    assert body_of(invoke("links_admin", get))["version"] == 3


def test_rotating_needs_settings_write(acme: TenantFixture, api_event: ApiEvent, invoke: Invoke) -> None:
    event = api_event("admin_link_key_rotate", authorizer=acme.authorizer(Role.EDITOR))
    response = invoke("links_admin", event)
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (403, "permission_denied")


# --- the preference centre -----------------------------------------------------------------------------


def _rows(page: str) -> dict[tuple[str, str], str]:
    return {
        (m.group(1), m.group(2)): m.group(3)
        for m in re.finditer(r'data-purpose="([^"]+)" data-channel="([^"]+)" data-status="([^"]+)"', page)
    }


def test_the_preference_centre_lists_active_purposes_and_logs_a_withdrawal_and_a_grant(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    token = token_of(admin_links(invoke, api_event, acme, anna)["preference_url"])
    before = table_items(aws)

    # Given the page: Danish, every active purpose on Anna's channels, the sub-processors and the privacy policy
    page = invoke("unsubscribe", page_event(api_event, "preferences_page", "p", token))
    assert page["statusCode"] == 200, page["body"]
    body = page["body"]
    assert '<html lang="da">' in body
    assert "Dine indstillinger hos Acme A/S" in body
    assert _rows(body) == {("sales-and-service", "email"): "granted", ("e-marketing", "email"): "granted"}
    assert "Mailjet" in body
    assert "Newsletter delivery" in body
    assert "2024-03-01" in body
    assert f'href="{PRIVACY}"' in body
    assert table_items(aws) == before

    # When she withdraws e-marketing: one submit
    withdraw = page_event(api_event, "preferences_post", "p", token)
    response = invoke("unsubscribe", withdraw)
    assert response["statusCode"] == 200, response["body"]
    assert "Gemt: du har trukket dit samtykke til E-markedsføring via e-mail tilbage." in response["body"]
    assert _rows(response["body"])[("e-marketing", "email")] == "withdrawn"
    assert suppressions(svc, "acme", "email", "anna@example.dk")["email#e-marketing"]["source"] == "preference-centre"

    # And grants it again: one submit, recording the Danish text version the page showed
    grant = page_event(
        api_event, "preferences_post", "p", token, body="purpose=e-marketing&channel=email&action=grant&text_version=1"
    )
    response = invoke("unsubscribe", grant)
    assert response["statusCode"] == 200, response["body"]
    assert "Gemt: du har givet samtykke til E-markedsføring via e-mail." in response["body"]
    assert "email#e-marketing" not in suppressions(svc, "acme", "email", "anna@example.dk")
    assert anna in audience(aws, "acme", "e-marketing", "email")

    # Then both changes are in the log, by the contact, from the preference centre, with evidence
    log = consent_log(invoke, api_event, acme, "anna@example.dk")
    withdrawn, granted = log["events"][-2:]
    assert (withdrawn["type"], withdrawn["status"], granted["type"], granted["status"]) == (
        "withdraw",
        "withdrawn",
        "grant",
        "granted",
    )
    for event in (withdrawn, granted):
        assert (event["source"], event["actor"]["type"]) == ("preference-centre", "contact")
        assert event["evidence"]["ip"] == "203.0.113.7"
    assert (granted["text"]["locale"], granted["text"]["version"]) == ("da", 1)
    assert log["chain_intact"] is True

    # And posting the same grant again changes nothing
    before = table_items(aws)
    again = invoke("unsubscribe", grant)
    assert "Intet er ændret" in again["body"]
    assert table_items(aws) == before


def test_a_grant_after_unsubscribing_from_everything_lifts_only_that_purpose(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    links = admin_links(invoke, api_event, acme, anna)
    everything = page_event(
        api_event, "unsubscribe_post_form", "u", token_of(links["unsubscribe_url"]), body="scope=all"
    )
    assert invoke("unsubscribe", everything)["statusCode"] == 200
    assert "email#*" in suppressions(svc, "acme", "email", "anna@example.dk")

    grant = page_event(
        api_event,
        "preferences_post",
        "p",
        token_of(links["preference_url"]),
        body="purpose=e-marketing&channel=email&action=grant",
    )
    assert invoke("unsubscribe", grant)["statusCode"] == 200

    found = suppressions(svc, "acme", "email", "anna@example.dk")
    assert set(found) == {"email#sales-and-service"}
    assert found["email#sales-and-service"]["reason"] == "unsubscribed"
    assert anna in audience(aws, "acme", "e-marketing", "email")


def test_a_deactivated_purpose_is_not_listed_and_cannot_be_granted(
    aws: Any, svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    svc.repo.update_existing("T#acme", "PURPOSE#sales-and-service", {"active": False})
    svc.catalogs.invalidate("acme")
    token = token_of(admin_links(invoke, api_event, acme, anna)["preference_url"])

    assert set(_rows(invoke("unsubscribe", page_event(api_event, "preferences_page", "p", token))["body"])) == {
        ("e-marketing", "email")
    }
    before = table_items(aws)
    for body in (
        "purpose=sales-and-service&channel=email&action=grant",
        "purpose=e-marketing&channel=sms&action=withdraw",  # Anna has no phone
        "purpose=e-marketing&channel=fax&action=grant",
        "purpose=e-marketing&channel=email&action=grant&text_version=99",
        "purpose=nope&channel=email&action=withdraw",
    ):
        response = invoke("unsubscribe", page_event(api_event, "preferences_post", "p", token, body=body))
        assert response["statusCode"] == 422, (body, response["statusCode"])
    assert table_items(aws) == before


# --- a fresh link by email address ---------------------------------------------------------------------


def _fresh_link(
    invoke: Invoke, api_event: ApiEvent, address: str, *, ip: str = "198.51.100.1", accept: str = "application/json"
) -> dict[str, Any]:
    event = api_event("preference_link_request", json_body={"email": address}, headers={"accept": accept})
    event["requestContext"]["http"]["sourceIp"] = ip
    return invoke("unsubscribe", event)


def _comparable(response: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
    headers = dict((response.get("headers") or {}).items())
    return response["statusCode"], response["body"], headers


def test_a_fresh_link_request_answers_the_same_whether_or_not_the_address_exists(
    acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    sent_before = len(read_outbox(to="anna@example.dk"))

    known = _fresh_link(invoke, api_event, "Anna@Example.dk")
    unknown = _fresh_link(invoke, api_event, "nobody@example.dk")

    assert known["statusCode"] == 202, known["body"]
    assert _comparable(known) == _comparable(unknown)
    assert read_outbox(to="nobody@example.dk") == []
    mails = read_outbox(to="anna@example.dk")
    assert len(mails) == sent_before + 1
    message = email.message_from_string(mails[-1]["raw"], policy=email.policy.default)
    assert message["Subject"] == "Dine indstillinger hos Acme A/S"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"https://\S+/p/(\S+)", text)
    assert match, text
    assert "exp" in tokens.peek(match.group(1))
    page = invoke("unsubscribe", page_event(api_event, "preferences_page", "p", match.group(1)))
    assert page["statusCode"] == 200
    assert "Dine indstillinger hos Acme A/S" in page["body"]

    # A browser's form post gets an HTML page, also the same either way
    html_known = _fresh_link(invoke, api_event, "anna@example.dk", accept="text/html")
    html_unknown = _fresh_link(invoke, api_event, "nobody@example.dk", accept="text/html")
    assert html_known["statusCode"] == 202
    assert _comparable(html_known) == _comparable(html_unknown)


def test_fresh_link_requests_are_rate_limited_per_address_and_per_ip(
    acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Per address: three an hour, whether or not it exists, from any IP
    for address in ("anna@example.dk", "nobody@example.dk"):
        answers = [_fresh_link(invoke, api_event, address, ip=f"198.51.100.{i}") for i in range(1, 5)]
        assert [a["statusCode"] for a in answers] == [202, 202, 202, 429]
        limited = answers[-1]
        assert body_of(limited)["error"]["code"] == "rate_limited"
        assert 0 < int(limited["headers"]["Retry-After"]) <= 3600
    assert len(read_outbox(to="anna@example.dk")) - 1 == 3  # the confirmation email, then three links

    # Per IP: twenty an hour, whatever the addresses
    answers = [_fresh_link(invoke, api_event, f"someone{i}@example.dk", ip="203.0.113.99") for i in range(21)]
    assert [a["statusCode"] for a in answers].count(202) == 20
    assert answers[-1]["statusCode"] == 429


def test_a_fresh_link_request_for_an_unknown_tenant_or_a_bad_address_is_refused(
    acme: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    bad = _fresh_link(invoke, api_event, "not-an-address")
    assert (bad["statusCode"], body_of(bad)["error"]["code"]) == (422, "invalid_email")
    event = api_event(
        "preference_link_request",
        path="/v1/public/ghost/preference-link",
        path_parameters={"tenant_id": "ghost"},
        json_body={"email": "a@example.dk"},
    )
    response = invoke("unsubscribe", event)
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (404, "tenant_not_found")


# --- admin: links and the test message -----------------------------------------------------------------


def test_the_admin_links_endpoint_signs_links_and_sends_nothing(
    svc: Services, acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    sent = len(read_outbox())

    links = admin_links(invoke, api_event, acme, anna)

    assert links["unsubscribe_url"].startswith("https://consent.example.test/u/")
    assert links["preference_url"].startswith("https://consent.example.test/p/")
    assert links["headers"] == {
        "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    claims = tokens.peek(token_of(links["unsubscribe_url"]))
    head = claims.pop("h")
    assert claims == {"t": "acme", "c": anna, "p": "e-marketing", "ch": "email", "m": "cmp_spring", "k": 1}
    profile = svc.repo.get(contact_pk("acme", anna), PROFILE, consistent=True) or {}
    keys = svc.keyring.tenant_keys("acme", svc.catalogs.get("acme").root_key_blob)
    public_key = keys.contact_box(anna, profile["wrapped_key"]).public_key()
    assert head == {  # the head as it is now, so that the unsubscribe need not read it
        "s": profile["seq"],
        "x": profile["last_hash"],
        "a": profile["email_bidx"],
        "pk": tokens.b64url(public_key),
        "l": "da",
    }
    assert len(read_outbox()) == sent

    viewer = api_event(
        "admin_contact_links",
        path=f"/v1/admin/contacts/{anna}/links",
        path_parameters={"contact_id": anna},
        authorizer=acme.authorizer(Role.VIEWER),
    )
    assert invoke("links_admin", viewer)["statusCode"] == 403
    unknown = api_event(
        "admin_contact_links",
        path="/v1/admin/contacts/con_0000000000000000000000000000abcd/links",
        path_parameters={"contact_id": "con_0000000000000000000000000000abcd"},
        authorizer=acme.authorizer(),
    )
    assert invoke("links_admin", unknown)["statusCode"] == 404


def test_the_test_message_carries_the_one_click_headers_and_a_visible_link(
    acme: TenantFixture, anna: str, api_event: ApiEvent, invoke: Invoke
) -> None:
    response = invoke("links_admin", api_event("admin_test_message", authorizer=acme.authorizer()))
    assert response["statusCode"] == 202, response["body"]
    sent = body_of(response)

    message = email.message_from_string(read_outbox(to="anna@example.dk")[-1]["raw"], policy=email.policy.default)
    assert message["List-Unsubscribe"] == f"<{sent['unsubscribe_url']}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Subject"] == "Testbesked fra Acme A/S"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert f"Afmeld: {sent['unsubscribe_url']}" in text
    assert f'href="{sent["unsubscribe_url"]}"' in html
    assert tokens.peek(token_of(sent["unsubscribe_url"]))["m"] == sent["message_ref"]

    # Once unsubscribed, the address gets no more test messages for that purpose
    one_click = page_event(api_event, "unsubscribe_one_click", "u", token_of(sent["unsubscribe_url"]))
    assert invoke("unsubscribe", one_click)["statusCode"] == 200
    again = invoke("links_admin", api_event("admin_test_message", authorizer=acme.authorizer()))
    assert (again["statusCode"], body_of(again)["error"]["code"]) == (409, "address_suppressed")
