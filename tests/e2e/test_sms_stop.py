"""SMS STOP and START against `samtykke local`: a Twilio webhook signed by Twilio's own library, over HTTP."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import phonenumbers
import pytest
from twilio.request_validator import RequestValidator

pytestmark = pytest.mark.e2e

TOKEN = "e2e0twilio0auth0token0123456789a"


def _unique_phone() -> str:
    """A valid Danish mobile number that no other e2e test uses."""
    while True:
        candidate = f"+452{secrets.randbelow(10**7):07d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


def _twilio_post(api: httpx.Client, body: str, sender: str, *, token: str = TOKEN) -> httpx.Response:
    params = {
        "MessageSid": f"SM{secrets.token_hex(16)}",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": sender,
        "To": "+4570202020",
        "Body": body,
        "NumMedia": "0",
        "FromCity": "",
    }
    url = f"{api.base_url}/v1/webhooks/sms/twilio/demo"  # exactly the URL requested, port included
    signature = RequestValidator(token).compute_signature(url, params)
    return api.post("/v1/webhooks/sms/twilio/demo", data=params, headers={"X-Twilio-Signature": signature})


def _sms_state(admin_api: httpx.Client, phone: str) -> dict[str, Any]:
    contact = admin_api.get("/v1/admin/contacts", params={"phone": phone})
    assert contact.status_code == 200, contact.text
    (state,) = [c for c in contact.json()["consents"] if c["purpose"] == "e-marketing" and c["channel"] == "sms"]
    return dict(state)


def _suppressions(admin_api: httpx.Client, phone: str) -> list[dict[str, Any]]:
    status = admin_api.get("/v1/admin/sms/status", params={"phone": phone})
    assert status.status_code == 200, status.text
    return list(status.json()["suppressions"])


def test_a_signed_twilio_stop_and_then_start_on_the_local_stack(api: httpx.Client, admin_api: httpx.Client) -> None:
    # Given the demo tenant's Twilio auth token, set through the admin API
    assert admin_api.put("/v1/admin/settings/sms/twilio", json={"auth_token": TOKEN}).status_code == 200
    # And a person who consented to e-marketing by SMS on the public form endpoint
    phone = _unique_phone()
    signup = api.post("/v1/public/demo/consents", json={"phone": phone, "purpose": ["e-marketing"], "locale": "da"})
    assert signup.status_code == 201, signup.text
    # And who answered the confirmation SMS with JA, which is what grants SMS
    assert _sms_state(admin_api, phone)["status"] == "pending"
    assert _twilio_post(api, "Ja", phone).status_code == 200
    assert _sms_state(admin_api, phone)["status"] == "granted"

    # When a forged STOP arrives, it is refused and changes nothing
    forged = _twilio_post(api, "STOP", phone, token="not0the0demo0tenants0token000000")
    assert (forged.status_code, forged.json()["error"]["code"]) == (403, "invalid_signature")
    assert _sms_state(admin_api, phone)["status"] == "granted"

    # When Twilio posts the person's STOP
    stop = _twilio_post(api, "Stop", phone)

    # Then Twilio gets TwiML with the tenant's Danish confirmation
    assert stop.status_code == 200, stop.text
    assert stop.headers["content-type"].startswith("application/xml")
    assert "<Message>Demo Shop ApS: Du modtager ikke flere SMS fra os." in stop.text
    # And the consent is withdrawn by the SMS provider on the person's behalf, with the keyword and message id
    assert _sms_state(admin_api, phone)["status"] == "withdrawn"
    log = admin_api.get("/v1/admin/consent-log", params={"phone": phone}).json()
    assert log["chain_intact"] is True
    withdrawal = log["events"][-1]
    assert (withdrawal["type"], withdrawal["channel"], withdrawal["source"]) == ("withdraw", "sms", "sms-keyword")
    assert withdrawal["actor"] == {"type": "sms_provider", "id": "twilio", "on_behalf_of": "contact"}
    assert withdrawal["evidence"]["keyword"] == "STOP"
    assert withdrawal["evidence"]["provider_message_id"].startswith("SM")
    # And the number is suppressed for every SMS purpose
    assert [(s["purpose"], s["reason"]) for s in _suppressions(admin_api, phone)] == [(None, "sms_stop")]

    # When the person texts START
    start = _twilio_post(api, "START", phone)

    # Then the suppression is lifted and the consent granted again, from the SMS keyword
    assert "Du modtager igen SMS fra os" in start.text
    state = _sms_state(admin_api, phone)
    assert (state["status"], state["source"]) == ("granted", "sms-keyword")
    assert _suppressions(admin_api, phone) == []


def test_a_stop_from_a_stranger_is_kept_for_a_later_signup(api: httpx.Client, admin_api: httpx.Client) -> None:
    assert admin_api.put("/v1/admin/settings/sms/twilio", json={"auth_token": TOKEN}).status_code == 200
    stranger = _unique_phone()

    assert _twilio_post(api, "afmeld", stranger).status_code == 200

    status = admin_api.get("/v1/admin/sms/status", params={"phone": stranger}).json()
    assert (status["contact_id"], status["suppressed_for_all"]) == (None, True)
    help_reply = _twilio_post(api, "hjælp", stranger)
    assert "Send STOP for at afmelde dig vores SMS" in help_reply.text
