"""Unsubscribing and the preference centre over real HTTP and in headless Chromium, from real emails in the outbox."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from email.message import EmailMessage
from typing import Any, cast

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

TENANT = "Demo Shop ApS"


def _address(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.dk"


def _mails(api: httpx.Client, to: str) -> list[dict[str, Any]]:
    return [m for m in api.get("/_local/outbox").json() if m["channel"] == "email" and to in m["to"]]


def _parse(raw: str) -> EmailMessage:
    return cast(EmailMessage, email.message_from_string(raw, policy=email.policy.default))


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _subscribed(api: httpx.Client, address: str, locale: str) -> str:
    """A fresh contact, granted e-marketing by email: posted through the public API and confirmed from its email."""
    posted = api.post("/v1/public/demo/consents", json={"email": address, "purpose": ["e-marketing"], "locale": locale})
    assert posted.status_code == 201, posted.text
    link = re.search(r"(http\S+/v1/public/confirm/\S+)", _text(_parse(_mails(api, address)[-1]["raw"])))
    assert link
    assert httpx.post(link.group(1)).status_code == 200
    contact_id: str = posted.json()["contact_id"]
    return contact_id


def _test_message(admin_api: httpx.Client, api: httpx.Client, contact_id: str, address: str) -> EmailMessage:
    """Sends the admin's test message (a marketing-style email) and takes it from the outbox."""
    sent = admin_api.post("/v1/admin/messages/test", json={"contact_id": contact_id, "purpose": "e-marketing"})
    assert sent.status_code == 202, sent.text
    (mail,) = [m for m in _mails(api, address) if m["message_id"] == sent.json()["message_id"]]
    return _parse(mail["raw"])


def _last_event(admin_api: httpx.Client, address: str) -> dict[str, Any]:
    log = admin_api.get("/v1/admin/consent-log", params={"email": address})
    assert log.status_code == 200, log.text
    assert log.json()["chain_intact"] is True
    event: dict[str, Any] = log.json()["events"][-1]
    return event


def _state(admin_api: httpx.Client, contact_id: str, purpose: str, channel: str) -> str:
    contact = admin_api.get(f"/v1/admin/contacts/{contact_id}")
    assert contact.status_code == 200, contact.text
    (state,) = [c for c in contact.json()["consents"] if (c["purpose"], c["channel"]) == (purpose, channel)]
    status: str = state["status"]
    return status


def _assert_excluded_from_marketing(admin_api: httpx.Client, contact_id: str) -> None:
    """What a campaign dry run would see: the consent is withdrawn and the address suppressed for the purpose."""
    assert _state(admin_api, contact_id, "e-marketing", "email") == "withdrawn"
    refused = admin_api.post("/v1/admin/messages/test", json={"contact_id": contact_id, "purpose": "e-marketing"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "address_suppressed"


def test_unsubscribe_in_danish_from_the_link_in_a_real_email(
    api: httpx.Client, admin_api: httpx.Client, page: Page
) -> None:
    address = _address("unsub-da")
    contact_id = _subscribed(api, address, "da")
    message = _test_message(admin_api, api, contact_id, address)
    link = re.search(r"Afmeld: (http\S+/u/\S+)", _text(message))
    assert link, _text(message)

    page.goto(link.group(1))

    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_role("heading", name="Afmeld")).to_be_visible()
    # (Other e2e tests may rename the purpose, so its name is not pinned here.)
    expect(page.get_by_text(re.compile(rf"^Vil du ikke længere modtage .+ via e-mail fra {TENANT}\?$"))).to_be_visible()
    expect(page.get_by_role("link", name="Privatlivspolitik")).to_have_attribute("href", "https://example.com/privacy")
    expect(page.get_by_role("button")).to_have_count(1)
    assert _state(admin_api, contact_id, "e-marketing", "email") == "granted"  # opening the page changed nothing

    page.get_by_role("button", name="Afmeld").click()

    expect(page.get_by_role("heading", name="Du er afmeldt")).to_be_visible()
    expect(page.get_by_text(re.compile(rf"^Du modtager ikke længere .+ via e-mail fra {TENANT}\.$"))).to_be_visible()
    event = _last_event(admin_api, address)
    assert (event["type"], event["purpose"], event["channel"], event["status"]) == (
        "withdraw",
        "e-marketing",
        "email",
        "withdrawn",
    )
    assert (event["source"], event["actor"]["type"]) == ("unsubscribe-link", "contact")
    assert '"via":"page"' in event["evidence"]["note"]
    assert event["evidence"]["user_agent"].startswith("Mozilla/5.0")
    _assert_excluded_from_marketing(admin_api, contact_id)


def test_unsubscribe_from_everything_in_dutch_with_a_reason(
    api: httpx.Client, admin_api: httpx.Client, page: Page
) -> None:
    address = _address("unsub-nl")
    contact_id = _subscribed(api, address, "nl")
    message = _test_message(admin_api, api, contact_id, address)
    link = re.search(r"Afmelden: (http\S+/u/\S+)", _text(message))
    assert link, _text(message)

    page.goto(link.group(1))

    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_text(re.compile(rf"^Wil je geen .+ via e-mail van {TENANT} meer ontvangen\?$"))).to_be_visible()
    page.get_by_label(f"Alles van {TENANT}, via alle kanalen").check()
    page.get_by_label("Waarom meld je je af? (optioneel)").fill("Te veel e-mails")
    page.get_by_role("button", name="Afmelden").click()

    expect(page.get_by_role("heading", name="Je bent afgemeld")).to_be_visible()
    expect(page.get_by_text(f"Je bent afgemeld voor alles van {TENANT}, via alle kanalen.")).to_be_visible()
    event = _last_event(admin_api, address)
    assert (event["type"], event["source"]) == ("withdraw", "unsubscribe-link")
    assert '"scope":"all"' in event["evidence"]["note"]
    assert '"reason":"Te veel e-mails"' in event["evidence"]["note"]
    _assert_excluded_from_marketing(admin_api, contact_id)


def test_the_preference_centre_withdraws_and_grants_in_one_step_each(
    api: httpx.Client, admin_api: httpx.Client, page: Page
) -> None:
    address = _address("prefs")
    contact_id = _subscribed(api, address, "da")
    message = _test_message(admin_api, api, contact_id, address)
    link = re.search(r"Administrer dine indstillinger: (http\S+/p/\S+)", _text(message))
    assert link, _text(message)

    page.goto(link.group(1))

    expect(page.get_by_role("heading", name=f"Dine indstillinger hos {TENANT}")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Hvem behandler dine data for {TENANT}")).to_be_visible()
    expect(page.get_by_role("link", name="Privatlivspolitik")).to_be_visible()
    row = page.locator('tr[data-purpose="e-marketing"][data-channel="email"]')
    expect(row).to_contain_text("Samtykke givet")

    row.get_by_role("button", name="Træk samtykke tilbage").click()

    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"^Gemt: du har trukket dit samtykke til .+ via e-mail tilbage\.$")
    )
    expect(row).to_contain_text("Trukket tilbage")
    withdrawn = _last_event(admin_api, address)
    assert (withdrawn["type"], withdrawn["source"], withdrawn["actor"]["type"]) == (
        "withdraw",
        "preference-centre",
        "contact",
    )
    _assert_excluded_from_marketing(admin_api, contact_id)

    row.get_by_role("button", name="Giv samtykke").click()

    expect(page.get_by_role("status")).to_have_text(re.compile(r"^Gemt: du har givet samtykke til .+ via e-mail\.$"))
    expect(row).to_contain_text("Samtykke givet")
    granted = _last_event(admin_api, address)
    assert (granted["type"], granted["status"], granted["source"]) == ("grant", "granted", "preference-centre")
    texts = admin_api.get("/v1/admin/consent-texts", params={"purpose": "e-marketing", "locale": "da"}).json()
    assert (granted["text"]["locale"], granted["text"]["version"]) == ("da", max(t["version"] for t in texts))
    assert _state(admin_api, contact_id, "e-marketing", "email") == "granted"


@pytest.mark.parametrize("encoding", ["form-urlencoded", "multipart"])
def test_a_mail_provider_unsubscribes_with_one_click_from_the_raw_email(
    api: httpx.Client, admin_api: httpx.Client, encoding: str
) -> None:
    address = _address(f"oneclick-{encoding}")
    contact_id = _subscribed(api, address, "sv")
    _test_message(admin_api, api, contact_id, address)

    # Given the raw MIME of the marketing email, as a mailbox provider receives it
    (raw,) = [m["raw"] for m in _mails(api, address) if "List-Unsubscribe-Post" in m["raw"]]
    message = _parse(raw)
    assert "List-Unsubscribe: <http" in raw  # verbatim on the wire, not folded into RFC 2047 encoded words
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    uris = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    (target,) = [uri for uri in uris if uri.startswith(("https://", "http://"))]  # the local stack serves http

    # When it POSTs List-Unsubscribe=One-Click there, with no cookie and no redirects followed
    with httpx.Client(follow_redirects=False, timeout=30) as provider:
        if encoding == "multipart":
            answers = [provider.post(target, files={"List-Unsubscribe": (None, "One-Click")}) for _ in range(2)]
        else:
            answers = [provider.post(target, data={"List-Unsubscribe": "One-Click"}) for _ in range(2)]

    # Then both answers are 200 (never a redirect), and the log holds exactly one withdrawal, made by one-click
    assert [a.status_code for a in answers] == [200, 200]
    assert "Du är avregistrerad" in answers[0].text
    log = admin_api.get("/v1/admin/consent-log", params={"email": address}).json()
    withdrawals = [e for e in log["events"] if e["type"] == "withdraw"]
    assert len(withdrawals) == 1
    assert '"via":"one-click"' in withdrawals[0]["evidence"]["note"]
    _assert_excluded_from_marketing(admin_api, contact_id)


def test_a_crm_gets_links_and_a_broken_link_offers_a_fresh_one(
    api: httpx.Client, admin_api: httpx.Client, page: Page
) -> None:
    address = _address("crm")
    contact_id = _subscribed(api, address, "de")
    links = admin_api.post(f"/v1/admin/contacts/{contact_id}/links", params={"purpose": "e-marketing"})
    assert links.status_code == 200, links.text
    assert httpx.get(links.json()["unsubscribe_url"]).status_code == 200
    mails_before = len(_mails(api, address))

    # When the person opens a link that was cut short
    page.set_extra_http_headers({"Accept-Language": "de-DE,de;q=0.9"})
    response = page.goto(links.json()["preference_url"][:-3])
    assert response is not None
    assert response.status == 400

    # Then the page says so, in German, and offers a fresh link by email
    expect(page.get_by_role("heading", name="Dieser Link funktioniert nicht")).to_be_visible()
    page.get_by_label("E-Mail-Adresse").fill(address)
    page.get_by_role("button", name="Link senden").click()
    expect(page.get_by_role("heading", name="Sehen Sie in Ihrem Posteingang nach")).to_be_visible()

    mails = _mails(api, address)
    assert len(mails) == mails_before + 1
    fresh = re.search(r"(http\S+/p/\S+)", _text(_parse(mails[-1]["raw"])))
    assert fresh
    page.goto(fresh.group(1))
    expect(page.get_by_role("heading", name=f"Ihre Einstellungen bei {TENANT}")).to_be_visible()
