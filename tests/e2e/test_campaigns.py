"""A campaign against `samtykke local`, over HTTP: consents, a dry run, a send, its progress, and the outbox.

The demo tenant is shared by every e2e test, so this one makes a purpose of its own: its audience is exactly the
people this test signs up.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest
from twilio.request_validator import RequestValidator

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

TWILIO_TOKEN = "e2e0twilio0auth0token0123456789a"  # the same token the SMS STOP e2e test sets
DONE_WITHIN_SECONDS = 60


def _unique_phone() -> str:
    while True:
        candidate = f"+452{secrets.randbelow(10**7):07d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


def _outbox(api: httpx.Client, to: str) -> list[dict[str, Any]]:
    return list(api.get("/_local/outbox", params={"to": to}).json())


def _confirm(api: httpx.Client, address: str) -> None:
    (mail,) = _outbox(api, address)
    body = email.message_from_string(mail["raw"], policy=email.policy.default).get_body(("plain",))
    assert body is not None
    link = re.search(r"(http\S+/v1/public/confirm/\S+)", str(body.get_content()))
    assert link, mail["raw"]
    assert httpx.post(link.group(1)).status_code == 200


def _sign_up(api: httpx.Client, purpose: str, **fields: str) -> None:
    response = api.post("/v1/public/demo/consents", json={"purpose": [purpose], "locale": "da", **fields})
    assert response.status_code == 201, response.text


def _twilio_reply(api: httpx.Client, phone: str, body: str) -> None:
    params = {"MessageSid": f"SM{secrets.token_hex(16)}", "From": phone, "To": "+4570202020", "Body": body}
    params |= {"AccountSid": "AC0123456789abcdef0123456789abcdef", "NumMedia": "0"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{api.base_url}/v1/webhooks/sms/twilio/demo", params)
    response = api.post("/v1/webhooks/sms/twilio/demo", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text


def _wait_until_done(admin_api: httpx.Client, campaign_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DONE_WITHIN_SECONDS
    while True:
        view: dict[str, Any] = admin_api.get(f"/v1/admin/campaigns/{campaign_id}").json()
        if view["status"] == "done" or time.monotonic() > deadline:
            return view
        time.sleep(0.3)


def test_a_campaign_reaches_only_the_consenting_with_both_headers_and_its_progress_can_be_followed(
    api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, tmp_path: Path
) -> None:
    tag = secrets.token_hex(4)
    purpose = f"news-{tag}"
    # Given a purpose of this test's own, with double opt-in for email and a Danish consent text
    created = admin_api.post(
        "/v1/admin/purposes",
        json={"purpose_id": purpose, "names": {"da": "Nyheder"}, "channels": ["email", "sms"], "double_opt_in": True},
    )
    assert created.status_code == 201, created.text
    text = {"purpose_id": purpose, "locale": "da", "text": "Ja tak, send mig nyheder."}
    assert admin_api.post("/v1/admin/consent-texts", json=text).status_code == 201

    # And four people: one confirmed, one confirmed who then unsubscribes, one who never confirms, and SMS ones
    reader, quitter, waiting = (f"{name}-{tag}@example.dk" for name in ("reader", "quitter", "waiting"))
    texter, stopper = _unique_phone(), _unique_phone()
    for address in (reader, quitter, waiting):
        _sign_up(api, purpose, email=address, first_name=address.split("-")[0].title())
    for phone in (texter, stopper):
        _sign_up(api, purpose, phone=phone, first_name="Sam")
    _confirm(api, reader)
    _confirm(api, quitter)
    quitter_id = admin_api.get("/v1/admin/contacts", params={"email": quitter}).json()["contact_id"]
    links = admin_api.post(f"/v1/admin/contacts/{quitter_id}/links", params={"purpose": purpose})
    assert links.status_code == 200, links.text
    assert httpx.post(links.json()["unsubscribe_url"], data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert admin_api.put("/v1/admin/settings/sms/twilio", json={"auth_token": TWILIO_TOKEN}).status_code == 200
    for phone in (texter, stopper):  # each number's owner answers the confirmation SMS
        _twilio_reply(api, phone, "JA")
    _twilio_reply(api, stopper, "STOP")

    content = {"da": {"subject": "Nyt til {first_name}", "text": "Hej {first_name}", "html": "<p>Hej {first_name}</p>"}}
    campaign = admin_api.post(
        "/v1/admin/campaigns", json={"name": "E2E", "purpose": purpose, "channel": "email", "content": content}
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["campaign_id"]
    sms = admin_api.post(
        "/v1/admin/campaigns",
        json={"name": "E2E SMS", "purpose": purpose, "channel": "sms", "content": {"da": {"text": "Hej {first_name}"}}},
    )
    assert sms.status_code == 201, sms.text

    # When both are dry-run
    report = admin_api.post(f"/v1/admin/campaigns/{campaign_id}/dry-run").json()
    sms_report = admin_api.post(f"/v1/admin/campaigns/{sms.json()['campaign_id']}/dry-run").json()

    # Then the unsubscribed address, the unconfirmed one and the STOPped number are excluded, with reasons
    assert (report["candidates"], report["included"]) == (3, 1)
    assert report["excluded_by_reason"] == {"pending_double_opt_in": 1, "withdrawn": 1}
    assert report["fine_exposure"]["amount"] == 10_000
    assert (sms_report["included"], sms_report["excluded"]) == (1, 1)

    # When both are sent, and the CLI follows the email campaign with its progress bar
    assert admin_api.post(f"/v1/admin/campaigns/{campaign_id}/send").status_code == 202
    assert admin_api.post(f"/v1/admin/campaigns/{sms.json()['campaign_id']}/send").status_code == 202
    environment = os.environ | {
        "SAMTYKKE_API_URL": local_stack.api_url,
        "SAMTYKKE_API_KEY": str(local_stack.info["admin_api_key"]),
    }
    followed = subprocess.run(
        [
            str(Path(sys.executable).with_name("samtykke")),
            "campaigns",
            "status",
            campaign_id,
            "--follow",
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env=environment,
        check=False,
    )

    # Then the send finishes, and the CLI saw it finish
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "done" in followed.stdout.splitlines()[-1]
    view = _wait_until_done(admin_api, campaign_id)
    assert (view["status"], view["counts"]["sent"], view["counts"]["queued"]) == ("done", 1, 1)

    # And only the confirmed reader got the campaign, with both headers and a visible unsubscribe link
    (mail,) = [m for m in _outbox(api, reader) if m["subject"] == "Nyt til Reader"]
    unsubscribe_url = mail["headers"]["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith(f"{local_stack.api_url}/u/")
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = email.message_from_string(mail["raw"], policy=email.policy.default).get_body(("plain",))
    assert plain is not None
    assert unsubscribe_url in str(plain.get_content())
    for other in (quitter, waiting):
        assert not [m for m in _outbox(api, other) if m["subject"].startswith("Nyt til")]

    # And the SMS went to the number that did not STOP, ending with the opt-out hint
    _wait_until_done(admin_api, sms.json()["campaign_id"])
    confirmation, text_message = _outbox(api, texter)  # the confirmation SMS, then the campaign's
    assert "Svar JA" in confirmation["text"]
    assert text_message["text"] == "Hej Sam\nAfmeld: svar STOP"
    assert [m for m in _outbox(api, stopper) if m["channel"] == "sms" and m["text"].startswith("Hej")] == []
