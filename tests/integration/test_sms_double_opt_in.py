"""SMS double opt-in: a number posted on a public form is never granted for SMS until its owner confirms, by a JA or
YES reply through any provider's webhook (Twilio, Vonage, End User Messaging), or by the link in the SMS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from samtykke.local.outbox import read_outbox
from samtykke.services import contacts
from samtykke.services.context import Services
from tests.integration.campaign_support import admin_call as campaign_call
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.evidence_support import confirm_sms_link, post_consent
from tests.integration.sms_helpers import (
    TOKEN,
    VONAGE_SECRET,
    EventFactory,
    Invoke,
    admin_call,
    twilio_event,
    twilio_params,
    vonage_event,
    vonage_params,
)
from tests.integration.test_sms_inbound_sns import NUMBER, sns_event

pytestmark = pytest.mark.integration

PHONE = "+4520123456"


@pytest.fixture
def providers(api_event: EventFactory, invoke: Invoke, tenant: TenantFixture) -> None:
    admin = admin_call(api_event, invoke, tenant)
    assert admin("PUT", "/v1/admin/settings/sms/twilio", json_body={"auth_token": TOKEN})["statusCode"] == 200
    vonage = {"signature_secret": VONAGE_SECRET, "signature_method": "sha256"}
    assert admin("PUT", "/v1/admin/settings/sms/vonage", json_body=vonage)["statusCode"] == 200
    assert admin("POST", "/v1/admin/sms/numbers", json_body={"number": NUMBER})["statusCode"] == 201


def _sms_state(svc: Services, tenant_id: str, contact_id: str) -> str:
    states = contacts.contact_summary(svc, tenant_id, contact_id).consents
    return next(s.status.value for s in states if s.channel.value == "sms")


def _signed_up(invoke: Invoke, api_event: EventFactory, locale: str = "da") -> str:
    response = post_consent(invoke, api_event, {"phone": "20 12 34 56", "purpose": ["e-marketing"], "locale": locale})
    assert response["statusCode"] == 201, response["body"]
    assert body_of(response)["purposes"][0]["status"] == "pending"
    contact_id: str = body_of(response)["contact_id"]
    return contact_id


def test_an_unverified_number_is_never_granted_for_sms(
    aws: Any, svc: Services, tenant: TenantFixture, api_event: EventFactory, invoke: Invoke
) -> None:
    # When an attacker posts a victim's number on the public form
    contact_id = _signed_up(invoke, api_event)

    # Then the SMS consent waits, and the number gets a Danish confirmation SMS with a link and the JA answer
    assert _sms_state(svc, tenant.tenant_id, contact_id) == "pending"
    [sms] = [m for m in read_outbox(to=PHONE) if m["channel"] == "sms"]
    assert "Svar JA" in sms["text"]
    assert any("/v1/public/confirm/" in link for link in sms["links"])

    # And an SMS campaign's dry run leaves the number out
    def admin(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return campaign_call(invoke, api_event, tenant, method, path, **kwargs)

    created = admin(
        "POST",
        "/v1/admin/campaigns",
        json_body={"name": "SMS", "purpose": "e-marketing", "channel": "sms", "content": {"da": {"text": "Hej"}}},
    )
    assert created["statusCode"] == 201, created["body"]
    report = body_of(admin("POST", f"/v1/admin/campaigns/{body_of(created)['campaign_id']}/dry-run"))
    assert report["included"] == 0
    assert report["excluded_by_reason"] == {"pending_double_opt_in": 1}

    # When the number's owner opens the SMS's link and presses the button, it is granted
    assert confirm_sms_link(invoke, api_event, PHONE)["statusCode"] == 200
    assert _sms_state(svc, tenant.tenant_id, contact_id) == "granted"


Reply = Callable[[EventFactory, Invoke, str], dict[str, Any]]


def _twilio(api_event: EventFactory, invoke: Invoke, text: str) -> dict[str, Any]:
    return invoke("sms_webhooks", twilio_event(api_event, twilio_params(text, sid="SMja0000000000000000000000000001")))


def _vonage(api_event: EventFactory, invoke: Invoke, text: str) -> dict[str, Any]:
    return invoke("sms_webhooks", vonage_event(api_event, vonage_params(text, message_id="0A00000000JA0001")))


def _end_user_messaging(_: EventFactory, invoke: Invoke, text: str) -> dict[str, Any]:
    return invoke("sms_inbound", sns_event(messageBody=text, inboundMessageId="ja-0001"))


@pytest.mark.usefixtures("providers")
@pytest.mark.parametrize(
    ("reply", "text", "locale"),
    [(_twilio, "ja", "da"), (_vonage, " Ja! ", "de"), (_end_user_messaging, "JA", "sv"), (_twilio, "yes", "en")],
)
def test_a_ja_or_yes_reply_through_any_provider_confirms(
    aws: Any,
    svc: Services,
    tenant: TenantFixture,
    api_event: EventFactory,
    invoke: Invoke,
    reply: Reply,
    text: str,
    locale: str,
) -> None:
    contact_id = _signed_up(invoke, api_event, locale)

    response = reply(api_event, invoke, text)

    assert response is None or response.get("statusCode", 200) == 200, response
    assert _sms_state(svc, tenant.tenant_id, contact_id) == "granted"
    [*_, confirmation] = contacts.consent_log(svc, tenant.tenant_id, contact_id).events
    assert (confirmation.type.value, confirmation.channel.value) == ("confirm", "sms")
    assert confirmation.actor.type.value == "sms_provider"
    assert confirmation.evidence is not None
    assert confirmation.evidence.keyword


@pytest.mark.usefixtures("providers")
def test_ja_never_lifts_a_stop(
    aws: Any, svc: Services, tenant: TenantFixture, api_event: EventFactory, invoke: Invoke
) -> None:
    # Given a confirmed number that then replied STOP
    contact_id = _signed_up(invoke, api_event)
    _twilio(api_event, invoke, "ja")
    invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOP", sid="SMstop000000000000000000000000001")))
    assert _sms_state(svc, tenant.tenant_id, contact_id) == "withdrawn"

    # When it answers JA to something later
    invoke("sms_webhooks", twilio_event(api_event, twilio_params("Ja", sid="SMja2000000000000000000000000002")))

    # Then it stays withdrawn and suppressed: only START re-subscribes
    assert _sms_state(svc, tenant.tenant_id, contact_id) == "withdrawn"
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    address = svc.repo.get_address(tenant.tenant_id, "phone", keys.blind_index("phone", PHONE))
    assert address is not None
    assert json.dumps(address["suppressions"]).count("sms_stop") == 1
