"""The staff console in headless Chromium on the local stack: every journey a DPO or marketer makes, axe-checked.

Each page is checked with axe-core (node_modules/axe-core, installed by `npm ci`) at 375 px and 1440 px: no
serious or critical violation. With SAMTYKKE_CONSOLE_SCREENSHOTS=docs/console the journeys also save the
screenshots the docs show.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import RunningStack
from tests.e2e.test_rights_flow import _checked, _upload

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (375, 1440)
PASSWORD = "a console e2e passphrase"
SCREENSHOTS = os.environ.get("SAMTYKKE_CONSOLE_SCREENSHOTS")
MOBILE_SHOTS = frozenset({"person", "dry-run"})
SCREENSHOT_MAX_HEIGHT = 1400  # keeps each PNG small; a long list shows its top
DONE_WITHIN_SECONDS = 60


def check_accessibility(page: Page, name: str) -> None:
    """axe-core at both widths: no serious or critical violation (and a screenshot, if asked for)."""
    assert AXE.is_file(), "run `npm ci`: axe-core is a devDependency"
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        # Evaluated through the DevTools protocol, so the page's strict CSP (no inline script) stays as it is.
        page.evaluate(AXE.read_text())
        result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
        serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, f"{name} at {width}px: " + "; ".join(
            f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']]})" for v in serious
        )
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
        )
        # One pixel of subpixel rounding, as the element check above allows
        assert overflow <= 1, f"{name} scrolls sideways at {width}px: {wide}"
        if SCREENSHOTS and (width == 1440 or name in MOBILE_SHOTS):
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            suffix = "" if width == 1440 else f"-{width}"
            height = min(page.evaluate("document.documentElement.scrollHeight"), SCREENSHOT_MAX_HEIGHT)
            clip = {"x": 0, "y": 0, "width": width, "height": height}
            page.screenshot(path=f"{SCREENSHOTS}/{name}{suffix}.png", full_page=True, clip=clip)


def _staff(admin_api: httpx.Client, api: httpx.Client, role: str, *, mfa: bool) -> tuple[str, pyotp.TOTP | None]:
    email = f"{role}-{secrets.token_hex(4)}@demo.example"
    created = admin_api.post("/v1/admin/users", json={"email": email, "role": role, "password": PASSWORD})
    assert created.status_code == 201, created.text
    if not mfa:
        return email, None
    token = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    uri = api.post("/v1/admin/me/mfa", headers=headers).json()["otpauth_uri"]
    totp = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    # The enrolment spends the previous step's code, so the login can use the current one.
    verified = api.post("/v1/admin/me/mfa/verify", headers=headers, json={"code": totp.at(time.time() - 30)})
    assert verified.status_code == 200, verified.text
    return email, totp


def _log_in(page: Page, base: str, email: str, totp: pyotp.TOTP | None) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if totp is not None:
        expect(page.locator("#login-error")).to_contain_text("authenticator")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Authenticator code").fill(totp.now())
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def _audit_actions(page: Page, base: str, **filters: str) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    page.goto(f"{base}/console/audit?{query}")
    return page.locator("#audit-table tbody tr td:nth-child(2)").all_inner_texts()


@pytest.fixture
def console(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def person(api: httpx.Client, admin_api: httpx.Client) -> dict[str, str]:
    email = f"anna-{secrets.token_hex(4)}@example.dk"
    signed = api.post(
        "/v1/public/demo/consents",
        json={"email": email, "purpose": ["sales-and-service"], "first_name": "Anna", "national_id": "0101701234"},
        headers={"User-Agent": "e2e-browser/1.0"},
    )
    assert signed.status_code == 201, signed.text
    return {"email": email, "contact_id": signed.json()["contact_id"]}


def test_login_needs_password_then_totp_and_is_audited(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack
) -> None:
    base = local_stack.api_url
    email, totp = _staff(admin_api, api, "admin", mfa=True)
    assert totp is not None
    console.goto(f"{base}/console/people")
    expect(console).to_have_url(f"{base}/console/login?next=/people")
    check_accessibility(console, "login")
    # A wrong code is refused
    console.get_by_label("Email").fill(email)
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_label("Authenticator code").fill("000000" if totp.now() != "000000" else "111111")
    console.get_by_role("button", name="Log in").click()
    expect(console.locator("#login-error")).to_contain_text("not valid")
    # With the keyboard alone: Tab through the fields (skip link first), Enter submits
    console.goto(f"{base}/console/login")
    console.keyboard.press("Tab")
    assert console.evaluate("document.activeElement.textContent") == "Skip to content"
    console.keyboard.press("Tab")  # the brand link
    console.keyboard.press("Tab")
    console.keyboard.type(email)
    console.keyboard.press("Tab")
    console.keyboard.type(PASSWORD)
    console.keyboard.press("Tab")
    console.keyboard.type(totp.now())
    console.keyboard.press("Enter")
    expect(console.get_by_role("navigation", name="Main")).to_be_visible()
    # The session cookie is HttpOnly and SameSite=Strict
    cookies = {c["name"]: c for c in console.context.cookies()}
    assert cookies["samtykke_console"]["httpOnly"]
    assert cookies["samtykke_console"]["sameSite"] == "Strict"
    assert cookies["samtykke_console"]["path"] == "/console"
    check_accessibility(console, "dashboard")
    assert "auth.login" in _audit_actions(console, base, action="auth.login")
    check_accessibility(console, "audit")


def test_a_form_without_the_csrf_token_changes_nothing(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, person: dict[str, str]
) -> None:
    base = local_stack.api_url
    email, _ = _staff(admin_api, api, "admin", mfa=False)
    _log_in(console, base, email, None)
    forged = console.request.post(
        f"{base}/console/people/{person['contact_id']}/erase", form={"confirm": person["contact_id"], "csrf": "x"}
    )
    assert forged.status == 403
    assert forged.headers["x-samtykke-error"] == "csrf_failed"
    # With the page's token but the wrong typed confirmation, nothing is erased either
    console.goto(f"{base}/console/people/{person['contact_id']}")
    token = console.locator("input[name=csrf]").first.get_attribute("value")
    wrong = console.request.post(
        f"{base}/console/people/{person['contact_id']}/erase",
        form={"confirm": "yes", "csrf": token or ""},
        headers={"Origin": base},
    )
    assert (wrong.status, wrong.headers["x-samtykke-error"]) == (422, "confirmation_mismatch")
    assert admin_api.get(f"/v1/admin/contacts/{person['contact_id']}").status_code == 200


def test_find_a_person_reveal_the_national_id_and_erase_them(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, person: dict[str, str]
) -> None:
    base = local_stack.api_url
    email, totp = _staff(admin_api, api, "admin", mfa=True)
    _log_in(console, base, email, totp)
    # Find the person by email and see the timeline with its verdict and evidence
    console.goto(f"{base}/console/people")
    console.get_by_label("First name or last name starts with (optional)").fill("Anna")
    console.get_by_role("button", name="List").click()
    expect(console.locator(f"#contacts a[href$='{person['contact_id']}']")).to_have_count(1)
    check_accessibility(console, "people")
    console.get_by_label("Email, phone or contact id").fill(person["email"])
    console.get_by_role("button", name="Search").click()
    expect(console).to_have_url(f"{base}/console/people/{person['contact_id']}")
    expect(console.locator("#chain-verdict")).to_contain_text("Hash chain intact")
    expect(console.locator(".timeline")).to_contain_text("sales-and-service")
    expect(console.locator(".timeline")).to_contain_text("e2e-browser/1.0")
    expect(console.locator("#national-id")).not_to_contain_text("010170-1234")
    check_accessibility(console, "person")
    # Reveal the national ID: shown, and audited
    console.get_by_role("button", name="Reveal (audited)").click()
    expect(console.locator("#national-id")).to_contain_text("010170-1234")
    # The printable consent form keeps its own styles under the console's CSP (its <style> allowed by hash only)
    violations: list[str] = []
    console.on(
        "console", lambda message: violations.append(message.text) if "Content Security" in message.text else None
    )
    console.get_by_role("link", name="Printable consent form").click()
    expect(console.locator("h1")).to_be_visible()
    assert console.evaluate("document.querySelector('style').sheet.cssRules.length") > 0
    assert violations == []
    console.goto(f"{base}/console/people/{person['contact_id']}")
    # Erase with a typed confirmation
    console.get_by_text("Erase this person…").click()
    console.get_by_label(f"Type the contact id {person['contact_id']} to confirm").fill(person["contact_id"])
    console.get_by_role("button", name="Erase permanently").click()
    expect(console.locator("#erased")).to_contain_text(person["contact_id"])
    check_accessibility(console, "erased")
    assert admin_api.get(f"/v1/admin/contacts/{person['contact_id']}").status_code == 404
    actions = _audit_actions(console, base, target_id=person["contact_id"])
    assert {"contact.viewed", "contact.sensitive_read", "contact.erased"} <= set(actions)


def test_without_sensitive_read_the_national_id_stays_hidden_and_the_attempt_is_audited(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, person: dict[str, str]
) -> None:
    base = local_stack.api_url
    email, _ = _staff(admin_api, api, "editor", mfa=False)
    _log_in(console, base, email, None)
    console.goto(f"{base}/console/people/{person['contact_id']}")
    console.get_by_role("button", name="Reveal (audited)").click()
    expect(console.locator(".error")).to_contain_text("may not")
    assert "010170-1234" not in console.content()
    denied = admin_api.get(
        "/v1/admin/audit", params={"action": "contact.sensitive_read_denied", "target_id": person["contact_id"]}
    )
    assert denied.status_code == 200, denied.text
    assert len(denied.json()["entries"]) == 1


def test_record_a_withdrawal_on_the_persons_behalf_and_see_it_on_the_timeline(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, person: dict[str, str]
) -> None:
    base = local_stack.api_url
    email, _ = _staff(admin_api, api, "editor", mfa=False)
    _log_in(console, base, email, None)
    console.goto(f"{base}/console/people/{person['contact_id']}")
    console.get_by_text("Record a decision on the person's behalf…").click()
    check_accessibility(console, "record")
    # Without a note the browser asks for one, and nothing is sent
    console.get_by_label("Withdraws consent").check()
    console.get_by_label("Purpose and channel").select_option("sales-and-service:email")
    console.get_by_label("How the person told us").select_option("phone")
    console.get_by_role("button", name="Record", exact=True).click()
    expect(console.locator("#record-note:invalid")).to_have_count(1)
    # With one, the withdrawal is recorded and tops the timeline
    note = "Rang on 3 December: no more service emails, please"
    console.get_by_label("Note (required)").fill(note)
    console.get_by_role("button", name="Record", exact=True).click()
    expect(console.locator(".notice")).to_contain_text("Recorded")
    newest = console.locator(".timeline li").first
    expect(newest).to_contain_text("Withdrawn sales-and-service / email")
    expect(newest).to_contain_text("Staff, by phone")
    expect(newest).to_contain_text(note)
    changed = admin_api.get(
        "/v1/admin/audit", params={"action": "consent.changed_by_staff", "target_id": person["contact_id"]}
    )
    assert changed.status_code == 200, changed.text
    assert [e["details"]["source"] for e in changed.json()["entries"]] == ["phone"]


def test_an_author_sees_no_addresses(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, person: dict[str, str]
) -> None:
    base = local_stack.api_url
    email, _ = _staff(admin_api, api, "author", mfa=False)
    _log_in(console, base, email, None)
    console.goto(f"{base}/console/people/{person['contact_id']}")
    expect(console.locator("#chain-verdict")).to_be_visible()
    assert person["email"] not in console.content()
    assert console.get_by_role("button", name="Reveal (audited)").count() == 1
    assert console.get_by_text("Erase this person…").count() == 0
    assert console.get_by_text("Record a decision on the person's behalf…").count() == 0


def test_dry_run_as_a_chart_then_send_with_a_confirm_step_and_follow_progress(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack
) -> None:
    base = local_stack.api_url
    tag = secrets.token_hex(4)
    purpose = f"console-{tag}"
    made = admin_api.post(
        "/v1/admin/purposes", json={"purpose_id": purpose, "names": {"en": "News"}, "channels": ["email"]}
    )
    assert made.status_code == 201, made.text
    assert (
        admin_api.post(
            "/v1/admin/consent-texts", json={"purpose_id": purpose, "locale": "en", "text": "Yes, send me news."}
        ).status_code
        == 201
    )
    signed = [
        api.post(
            "/v1/public/demo/consents", json={"email": f"{name}-{tag}@example.dk", "purpose": [purpose], "locale": "en"}
        )
        for name in ("ole", "eva", "kim")
    ]
    assert [r.status_code for r in signed] == [201, 201, 201], signed[0].text
    quitter_id = signed[2].json()["contact_id"]
    links = admin_api.post(f"/v1/admin/contacts/{quitter_id}/links", params={"purpose": purpose}).json()
    assert httpx.post(links["unsubscribe_url"], data={"List-Unsubscribe": "One-Click"}).status_code == 200
    content = {"en": {"subject": "News", "text": "Hello", "html": "<p>Hello</p>"}}
    campaign_id = admin_api.post(
        "/v1/admin/campaigns",
        json={"name": f"Console {tag}", "purpose": purpose, "channel": "email", "content": content},
    ).json()["campaign_id"]

    email, totp = _staff(admin_api, api, "admin", mfa=True)
    _log_in(console, base, email, totp)
    console.goto(f"{base}/console/campaigns")
    check_accessibility(console, "campaigns")
    console.get_by_role("link", name=f"Console {tag}").click()
    expect(console).to_have_url(f"{base}/console/campaigns/{campaign_id}")
    check_accessibility(console, "campaign")
    console.get_by_role("button", name="Dry run").click()
    chart = console.locator("#dry-run-chart svg")
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).to_have_count(2)  # included, and the one exclusion reason
    expect(console.locator("#dry-run-chart")).to_contain_text("2 of 3")
    expect(console.locator("table")).to_contain_text("Withdrawn")
    expect(console.locator("#fine-exposure")).to_contain_text("DKK")
    check_accessibility(console, "dry-run")
    console.get_by_role("button", name="Send…").click()
    expect(console.locator("#confirm-text")).to_contain_text("2 people")
    check_accessibility(console, "send-confirm")
    console.get_by_role("button", name="Yes, send to 2").click()
    expect(console.locator("#campaign-status")).not_to_have_text("Draft")
    deadline = time.monotonic() + DONE_WITHIN_SECONDS
    while admin_api.get(f"/v1/admin/campaigns/{campaign_id}").json()["status"] != "done":
        assert time.monotonic() < deadline, "the send did not finish"
        time.sleep(0.3)
    # The page follows the send by itself (console.js polls the progress while it runs): no reload
    expect(console.locator("[data-field=sent]")).to_have_text("2", timeout=DONE_WITHIN_SECONDS * 1000)
    expect(console.locator("[data-field=progress]")).to_have_text("100")
    expect(console.locator("#campaign-status")).to_have_text("Done")
    actions = _audit_actions(console, base, target_id=campaign_id)
    assert {"campaign.dry_run", "campaign.sent"} <= set(actions)
    console.goto(f"{base}/console/dashboard")
    expect(console.locator("#complaints-chart svg")).to_be_visible()
    expect(console.get_by_role("row", name=f"Console {tag}")).to_contain_text("2")
    check_accessibility(console, "dashboard-campaigns")
    console.get_by_label("Purpose", exact=True).select_option(purpose)
    console.get_by_role("button", name="Filter").click()
    expect(console.locator("#trend-chart .legend")).to_contain_text("Granted: 3")
    expect(console.locator("#trend-chart .legend")).to_contain_text("Withdrawn: 1")


def test_a_screenshot_of_the_consent_shows_as_a_thumbnail_in_the_timeline(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, person: dict[str, str]
) -> None:
    base = local_stack.api_url
    log = admin_api.get("/v1/admin/consent-log", params={"email": person["email"]}).json()
    event_id = log["events"][0]["event_id"]
    email, _ = _staff(admin_api, api, "editor", mfa=False)
    _log_in(console, base, email, None)
    console.goto(f"{base}/console/login")  # any page: its screenshot is the evidence
    picture = console.screenshot()
    stored = _upload(admin_api, person["contact_id"], event_id, picture, "image/png")
    assert _checked(admin_api, person["contact_id"], stored["file_id"])["status"] == "verified"
    console.goto(f"{base}/console/people/{person['contact_id']}")
    thumbnail = console.locator("img.thumb")
    expect(thumbnail).to_have_count(1)
    assert console.evaluate("document.querySelector('img.thumb').naturalWidth") > 0


def test_settings_change_and_consent_texts_show_a_diff_between_versions(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack
) -> None:
    base = local_stack.api_url
    purpose = f"texts-{secrets.token_hex(4)}"
    made = admin_api.post(
        "/v1/admin/purposes", json={"purpose_id": purpose, "names": {"en": "Tips"}, "channels": ["email"]}
    )
    assert made.status_code == 201, made.text
    for text in ("Yes, send me tips by email.", "Yes, send me weekly tips by email. I can unsubscribe."):
        added = admin_api.post("/v1/admin/consent-texts", json={"purpose_id": purpose, "locale": "en", "text": text})
        assert added.status_code == 201, added.text
    email, _ = _staff(admin_api, api, "admin", mfa=False)
    _log_in(console, base, email, None)
    console.goto(f"{base}/console/catalog")
    check_accessibility(console, "catalog")
    # The tenant's settings: a sub-processor added through the form shows at once; a bad date changes nothing
    console.get_by_text("Change the settings").click()
    sub = console.get_by_role("textbox", name="Sub-processors")
    lines = sub.input_value()
    sub.fill(lines + f"Relay {purpose} | Email delivery | 2026-01-15\n")
    console.get_by_role("button", name="Save", exact=True).last.click()
    expect(console.locator("main")).to_contain_text(f"Relay {purpose}")
    console.get_by_text("Change the settings").click()
    console.get_by_role("textbox", name="Sub-processors").fill("Broken | no date |")
    console.locator("#settings-form").get_by_role("button", name="Save").click()
    expect(console.locator(".error")).to_contain_text("sub_processors")
    console.goto(f"{base}/console/catalog")
    expect(console.locator("main")).to_contain_text(f"Relay {purpose}")
    console.get_by_role("link", name="en (2)").first.click()
    expect(console.locator("#diff ins")).to_have_text(["weekly", "I can unsubscribe."])
    expect(console.locator("#diff del")).to_have_count(0)
    check_accessibility(console, "texts")
    console.get_by_label("Text", exact=True).fill("Yes, send me weekly tips. I can unsubscribe.")
    console.get_by_role("button", name="Save as a new version").click()
    expect(console.get_by_role("heading", name="v2 → v3")).to_be_visible()
    expect(console.locator("#diff del")).to_have_text(["tips by email."])


def test_staff_invite_and_an_api_key_created_then_revoked_are_audited(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack
) -> None:
    base = local_stack.api_url
    email, totp = _staff(admin_api, api, "admin", mfa=True)
    _log_in(console, base, email, totp)
    console.goto(f"{base}/console/staff")
    expect(console.locator("#users")).to_contain_text(email)
    check_accessibility(console, "staff")
    invited = f"new-{secrets.token_hex(4)}@demo.example"
    console.get_by_label("Email").fill(invited)
    console.get_by_role("button", name="Invite").click()
    expect(console.locator("#users")).to_contain_text(invited)
    label = f"crm-{secrets.token_hex(3)}"
    console.get_by_label("Label").fill(label)
    console.get_by_role("button", name="Create a key").click()
    secret = console.locator("#new-secret").inner_text()
    assert secret.startswith("stk_")
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/v1/admin/purposes", headers=headers).status_code == 200
    console.locator("#keys tr", has_text=label).get_by_role("button", name="Revoke").click()
    expect(console.locator("#keys tr", has_text=label)).to_contain_text("Revoked")
    assert api.get("/v1/admin/purposes", headers=headers).status_code in (401, 403)
    actions = _audit_actions(console, base, actor_id=_user_id(admin_api, email))
    assert {"user.invited", "api_key.created", "api_key.revoked"} <= set(actions)


def test_imports_list_and_their_row_errors(
    console: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, tmp_path: Path
) -> None:
    base = local_stack.api_url
    tag = secrets.token_hex(4)
    csv = tmp_path / "fair.csv"
    csv.write_text(f"email\nfair-{tag}@example.dk\nnot-an-address\n", encoding="utf-8")
    command = [str(Path(sys.executable).with_name("samtykke")), "imports", "--api-url", base, "--api-key"]
    command += [str(local_stack.info["admin_api_key"]), "create", str(csv), "--purpose", "e-marketing"]
    command += ["--source", "import", "--legal-basis", "consent", "--description", "Spring fair sheet", "--wait"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    email, _ = _staff(admin_api, api, "editor", mfa=False)
    _log_in(console, base, email, None)
    console.goto(f"{base}/console/imports")
    check_accessibility(console, "imports")
    console.locator("table a").first.click()
    expect(console.locator("#issues")).to_contain_text("invalid_email")
    check_accessibility(console, "import")


def _user_id(admin_api: httpx.Client, email: str) -> str:
    users = admin_api.get("/v1/admin/users").json()
    listed = users["users"] if isinstance(users, dict) else users
    return str(next(u["user_id"] for u in listed if u["email"] == email))
