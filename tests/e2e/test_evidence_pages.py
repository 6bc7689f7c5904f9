"""The evidence pages in headless Chromium: the scanner-safe confirmation page, and receipts from the preference
centre that `samtykke verify` checks offline with the key from the public URL."""

from __future__ import annotations

import email
import email.policy
import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from samtykke.cli import main as samtykke_cli

pytestmark = pytest.mark.e2e


def _address(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.dk"


def _mail_text(api: httpx.Client, to: str) -> str:
    raw = api.get("/_local/outbox", params={"to": to}).json()[-1]["raw"]
    body = email.message_from_string(raw, policy=email.policy.default).get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _events(admin_api: httpx.Client, address: str) -> list[tuple[str, str]]:
    log = admin_api.get("/v1/admin/consent-log", params={"email": address}).json()
    return [(e["type"], e["status"]) for e in log["events"]]


def test_opening_the_confirmation_link_changes_nothing_until_the_button_is_pressed(
    api: httpx.Client, admin_api: httpx.Client, page: Page
) -> None:
    # Given a Dutch sign-up waiting for its double opt-in
    address = _address("confirm")
    posted = api.post("/v1/public/demo/consents", json={"email": address, "purpose": ["e-marketing"], "locale": "nl"})
    assert posted.status_code == 201, posted.text
    link = re.search(r"(http\S+/v1/public/confirm/\S+)", _mail_text(api, address))
    assert link

    # When the browser opens the link
    page.goto(link.group(1))

    # Then it shows one button in Dutch, and the consent is still pending
    button = page.get_by_role("button", name="Bevestig mijn inschrijving")
    expect(button).to_be_visible()
    assert _events(admin_api, address) == [("grant", "pending")]

    # When the person presses it
    button.click()

    # Then the page thanks them, and the confirmation's evidence is the browser's request
    expect(page.get_by_role("heading", name="Bedankt: je inschrijving is bevestigd")).to_be_visible()
    log = admin_api.get("/v1/admin/consent-log", params={"email": address}).json()
    assert [(e["type"], e["status"]) for e in log["events"]] == [("grant", "pending"), ("confirm", "granted")]
    assert "HeadlessChrome" in log["events"][-1]["evidence"]["user_agent"]


def test_receipts_from_the_preference_centre_verify_offline(
    api: httpx.Client, admin_api: httpx.Client, page: Page, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a confirmed contact, exported once so that a signed checkpoint anchors its log
    address = _address("receipts")
    posted = api.post("/v1/public/demo/consents", json={"email": address, "purpose": ["e-marketing"], "locale": "da"})
    contact_id = posted.json()["contact_id"]
    link = re.search(r"(http\S+/v1/public/confirm/\S+)", _mail_text(api, address))
    assert link
    assert httpx.post(link.group(1)).status_code == 200
    assert admin_api.get(f"/v1/admin/contacts/{contact_id}/export").json()["verification"]["ok"] is True

    # When the person opens the preference centre and follows its receipts link
    links = admin_api.post(f"/v1/admin/contacts/{contact_id}/links", params={"purpose": "e-marketing"}).json()
    page.goto(links["preference_url"])
    receipts_link = page.get_by_role("link", name="Hent dine samtykkekvitteringer")
    expect(receipts_link).to_be_visible()
    href = receipts_link.get_attribute("href")
    assert href
    receipts = httpx.get(href)
    assert receipts.status_code == 200

    # Then `samtykke verify` checks them with nothing but the public key from its public URL
    key = api.get("/v1/public/evidence/public-key")
    assert key.status_code == 200
    (tmp_path / "key.pem").write_text(key.text)
    (tmp_path / "receipts.json").write_text(receipts.text)
    code = samtykke_cli(["verify", str(tmp_path / "receipts.json"), "--public-key", str(tmp_path / "key.pem")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert [r["ok"] for r in out["results"]] == [True, True]
    assert all("proof" in r for r in receipts.json()["receipts"])


def test_a_parent_confirms_a_childs_consent_on_the_page_from_their_email(
    api: httpx.Client, admin_api: httpx.Client, page: Page
) -> None:
    # Given a child's sign-up that names a parent
    child, parent = _address("child"), _address("parent")
    posted = api.post(
        "/v1/public/demo/consents",
        json={
            "email": child,
            "purpose": ["e-marketing"],
            "locale": "sv",
            "birth_date": "2015-03-01",
            "parent_email": parent,
        },
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["purposes"][0]["status"] == "pending_parental"
    link = re.search(r"(http\S+/v1/public/parental/\S+)", _mail_text(api, parent))
    assert link

    # When the parent opens the link: one Swedish button, and nothing changes yet
    page.goto(link.group(1))
    button = page.get_by_role("button", name="Jag bekräftar som förälder")
    expect(button).to_be_visible()
    assert _events(admin_api, child) == [("grant", "pending_parental")]

    # When they press it, the child's log holds the parent's confirmation
    button.click()
    expect(page.get_by_role("heading", name="Tack: ditt samtycke som förälder är registrerat")).to_be_visible()
    log = admin_api.get("/v1/admin/consent-log", params={"email": child}).json()
    assert [(e["type"], e["status"], e["actor"]["type"]) for e in log["events"]][-1] == ("confirm", "granted", "parent")
