"""Withdrawals reach a tenant's webhook on the local stack within 5 s, signed to Standard Webhooks.

The local stack runs the whole path: the table stream is polled into change_publisher, which puts CloudEvents on the
(moto) bus, whose rule queues them for webhook_delivery, which POSTs to the receiver here. `standardwebhooks`, the
specification's reference library, verifies every signature. Every path is here: one-click, SMS STOP, the preference
centre, staff recording a withdrawal on a person's behalf, and erasure.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest
from twilio.request_validator import RequestValidator

from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

WITHDRAWN = "dk.samtykke.consent.withdrawn"
WITHIN_SECONDS = 5.0
TWILIO_TOKEN = "e2e0twilio0auth0token0123456789a"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def webhook(local_stack: Any, receiver: Receiver) -> Iterator[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {local_stack.info['admin_api_key']}"}
    with httpx.Client(base_url=local_stack.api_url, headers=headers, timeout=30) as admin:
        created = admin.post(
            "/v1/admin/webhooks",
            json={
                "url": receiver.url,
                "event_types": ["dk.samtykke.consent.*", "dk.samtykke.contact.erased", "dk.samtykke.suppression.*"],
            },
        )
        assert created.status_code == 201, created.text
        yield created.json()
        admin.delete(f"/v1/admin/webhooks/{created.json()['subscription_id']}")


def _signed_up(api: httpx.Client, purpose: str = "sales-and-service", **address: str) -> str:
    posted = api.post("/v1/public/demo/consents", json={**address, "purpose": [purpose], "locale": "da"})
    assert posted.status_code == 201, posted.text
    contact_id: str = posted.json()["contact_id"]
    return contact_id


def _links(admin_api: httpx.Client, contact_id: str) -> dict[str, Any]:
    issued = admin_api.post(f"/v1/admin/contacts/{contact_id}/links", params={"purpose": "sales-and-service"})
    assert issued.status_code == 200, issued.text
    links: dict[str, Any] = issued.json()
    return links


def _arrives(
    receiver: Receiver, webhook: dict[str, Any], event_type: str, contact_id: str, since: float
) -> dict[str, Any]:
    (delivery,) = receiver.wait_for(event_type, contact_id, timeout=WITHIN_SECONDS)[:1]
    assert delivery.at - since < WITHIN_SECONDS
    event = delivery.verify(webhook["secret"])  # raises unless the Standard Webhooks signature verifies
    assert delivery.headers["webhook-id"] == event["id"]
    assert event["specversion"] == "1.0"
    assert event["subject"] == contact_id
    assert event["data"]["tenant"] == "demo"
    return event


def test_a_one_click_unsubscribe_reaches_the_webhook(
    api: httpx.Client, admin_api: httpx.Client, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    contact_id = _signed_up(api, email=f"oneclick-{uuid.uuid4().hex[:8]}@example.dk")
    link = _links(admin_api, contact_id)["unsubscribe_url"]

    started = time.monotonic()
    assert httpx.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    event = _arrives(receiver, webhook, WITHDRAWN, contact_id, started)
    assert (event["data"]["purpose"], event["data"]["channel"], event["data"]["status"]) == (
        "sales-and-service",
        "email",
        "withdrawn",
    )
    assert "oneclick-" not in str(event)  # no addresses: the subscription did not opt in


def test_an_sms_stop_reaches_the_webhook(
    api: httpx.Client, admin_api: httpx.Client, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    assert admin_api.put("/v1/admin/settings/sms/twilio", json={"auth_token": TWILIO_TOKEN}).status_code == 200
    phone = _phone()
    contact_id = _signed_up(api, "e-marketing", phone=phone)  # STOP ends marketing SMS
    params = {"MessageSid": f"SM{secrets.token_hex(16)}", "From": phone, "To": "+4570202020", "Body": "STOP"}
    url = f"{api.base_url}/v1/webhooks/sms/twilio/demo"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)

    started = time.monotonic()
    stop = api.post("/v1/webhooks/sms/twilio/demo", data=params, headers={"X-Twilio-Signature": signature})
    assert stop.status_code == 200, stop.text

    event = _arrives(receiver, webhook, WITHDRAWN, contact_id, started)
    assert event["data"]["channel"] == "sms"
    suppressed = receiver.wait_for("dk.samtykke.suppression.added", contact_id, timeout=WITHIN_SECONDS)
    assert suppressed[0].verify(webhook["secret"])["data"]["reason"] == "sms_stop"


def test_a_withdrawal_in_the_preference_centre_reaches_the_webhook(
    api: httpx.Client, admin_api: httpx.Client, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    contact_id = _signed_up(api, email=f"prefs-{uuid.uuid4().hex[:8]}@example.dk")
    link = _links(admin_api, contact_id)["preference_url"]
    assert httpx.get(link).status_code == 200

    started = time.monotonic()
    posted = httpx.post(link, data={"purpose": "sales-and-service", "channel": "email", "action": "withdraw"})
    assert posted.status_code == 200, posted.text

    event = _arrives(receiver, webhook, WITHDRAWN, contact_id, started)
    assert event["data"]["actor_type"] == "contact"


def test_a_withdrawal_staff_record_on_a_persons_behalf_reaches_the_webhook(
    api: httpx.Client, admin_api: httpx.Client, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    contact_id = _signed_up(api, email=f"letter-{uuid.uuid4().hex[:8]}@example.dk")
    change = {
        "action": "withdraw",
        "purpose": "sales-and-service",
        "channel": "email",
        "source": "letter",
        "note": "Letter of 1 December, signed, asks us to stop all mail",
    }

    started = time.monotonic()
    recorded = admin_api.post(f"/v1/admin/contacts/{contact_id}/consents", json=change)
    assert recorded.status_code == 201, recorded.text

    event = _arrives(receiver, webhook, WITHDRAWN, contact_id, started)
    assert event["id"] == recorded.json()["event_id"]
    assert (event["data"]["actor_type"], event["data"]["source"]) == ("staff", "staff-letter")
    assert event["data"]["actor_id"]  # the key the admin client holds stands for the staff member here
    assert "Letter of" not in str(event)  # the note stays sealed in the consent log


def test_an_erasure_reaches_the_webhook(
    api: httpx.Client, admin_api: httpx.Client, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    contact_id = _signed_up(api, email=f"erase-{uuid.uuid4().hex[:8]}@example.dk")

    started = time.monotonic()
    erased = admin_api.post(f"/v1/admin/contacts/{contact_id}/erase")
    assert erased.status_code == 200, erased.text

    _arrives(receiver, webhook, "dk.samtykke.contact.erased", contact_id, started)
    consent = _arrives(receiver, webhook, "dk.samtykke.consent.erased", contact_id, started)
    assert consent["data"]["status"] == "withdrawn"


def test_a_ping_is_signed_and_the_change_feed_has_the_withdrawals(
    api: httpx.Client, admin_api: httpx.Client, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    ping = admin_api.post(f"/v1/admin/webhooks/{webhook['subscription_id']}/test")
    assert ping.status_code == 200, ping.text
    assert (ping.json()["delivered"], ping.json()["status_code"]) == (True, 204)
    (received,) = [r for r in receiver.received if r.headers["webhook-id"] == ping.json()["webhook_id"]]
    assert received.verify(webhook["secret"])["type"] == "dk.samtykke.webhook.ping"

    contact_id = _signed_up(api, email=f"feed-{uuid.uuid4().hex[:8]}@example.dk")
    deadline = time.monotonic() + 15  # the feed holds back its newest 5 seconds
    since, seen = None, []
    while time.monotonic() < deadline and not [c for c in seen if c.get("subject") == contact_id]:
        page = admin_api.get("/v1/admin/changes", params={"since": since} if since else {})
        assert page.status_code == 200, page.text
        seen += page.json()["changes"]
        since = page.json()["next_cursor"]
        time.sleep(0.5)
    (granted,) = [c for c in seen if c.get("subject") == contact_id]
    assert granted["type"] == "dk.samtykke.consent.granted"


def _phone() -> str:
    while True:
        candidate = f"+452{secrets.randbelow(10**7):07d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


def test_the_cli_downloads_the_change_feed_with_a_progress_bar_and_a_resume_cursor(
    api: httpx.Client, local_stack: Any, tmp_path: Path
) -> None:
    started = datetime.now(UTC).isoformat()
    contact_id = _signed_up(api, email=f"cli-{uuid.uuid4().hex[:8]}@example.dk")
    output, cursor_file = tmp_path / "changes.jsonl", tmp_path / "cursor"
    command = [
        str(Path(sys.executable).with_name("samtykke")),
        "changes",
        "--api-url",
        local_stack.api_url,
        "--api-key",
        local_stack.info["admin_api_key"],
        "--output",
        str(output),
        "--cursor-file",
        str(cursor_file),
        "--limit",
        "2",
    ]
    deadline, lines, run = time.monotonic() + 20, [], None
    while time.monotonic() < deadline and not [c for c in lines if c.get("subject") == contact_id]:
        since = ["--since", started] if not cursor_file.exists() else []  # then the cursor file resumes
        run = subprocess.run([*command, *since], capture_output=True, text=True, timeout=60, check=True)
        lines = [json.loads(line) for line in output.read_text().splitlines()]
        time.sleep(1)  # the feed holds back its newest 5 seconds

    assert run is not None
    assert "[#" in run.stderr
    assert "resume with: samtykke changes --since c1." in run.stderr
    assert [c["type"] for c in lines if c.get("subject") == contact_id] == ["dk.samtykke.consent.granted"]
    assert len({c["id"] for c in lines}) == len(lines)  # resuming from the cursor repeats nothing
