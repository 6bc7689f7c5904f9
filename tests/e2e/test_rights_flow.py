"""Data-subject rights over real HTTP: evidence uploads through presigned URLs, the consent form in Chromium, an
import through the CLI, and export then erasure. The local stack delivers the bucket's notifications through SQS."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

CHECK_TIMEOUT_SECONDS = 30


def _person(api: httpx.Client, admin_api: httpx.Client, **fields: Any) -> tuple[str, str, str]:
    """A fresh contact with a granted consent: (email, contact id, the grant's event id)."""
    email = f"rights-{uuid.uuid4().hex[:10]}@example.dk"
    posted = api.post(
        "/v1/public/demo/consents", json={"email": email, "purpose": ["sales-and-service"], "locale": "da", **fields}
    )
    assert posted.status_code == 201, posted.text
    log = admin_api.get("/v1/admin/consent-log", params={"email": email}).json()
    return email, posted.json()["contact_id"], log["events"][0]["event_id"]


def _upload(admin_api: httpx.Client, contact_id: str, event_id: str, data: bytes, content_type: str) -> dict[str, Any]:
    slot = admin_api.post(
        f"/v1/admin/contacts/{contact_id}/events/{event_id}/evidence",
        params={"content_type": content_type, "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    )
    assert slot.status_code == 201, slot.text
    upload = slot.json()["upload"]
    put = httpx.request(upload["method"], upload["url"], content=data, headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return dict(slot.json()["file"])


def _checked(admin_api: httpx.Client, contact_id: str, file_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        files = {f["file_id"]: f for f in admin_api.get(f"/v1/admin/contacts/{contact_id}/evidence").json()}
        if files[file_id]["status"] != "awaiting_upload":
            return files[file_id]
        time.sleep(0.2)
    raise AssertionError(f"evidence file {file_id} was not checked within {CHECK_TIMEOUT_SECONDS} s")


def test_the_consent_form_renders_in_chromium_and_its_screenshot_becomes_evidence(
    page: Page, api: httpx.Client, admin_api: httpx.Client, local_stack: RunningStack, tmp_path: Path
) -> None:
    settings = {
        "privacy_policy_url": "https://example.com/privacy",
        "sub_processors": [{"name": "Mailchimp", "purpose": "Newsletter delivery", "agreement_date": "2020-06-01"}],
    }
    assert admin_api.patch("/v1/admin/settings", json=settings).status_code == 200
    _, contact_id, event_id = _person(api, admin_api, first_name="Signe", last_name="Holm")

    page.set_extra_http_headers({"Authorization": f"Bearer {local_stack.info['admin_api_key']}"})
    response = page.goto(f"{local_stack.api_url}/v1/admin/contacts/{contact_id}/consent-form?locale=da")
    assert response is not None
    assert response.status == 200
    screenshot = page.screenshot(full_page=True, path=str(tmp_path / "consent-form.png"))

    assert page.locator("h1").inner_text() == "Samtykkeerklæring"
    assert page.locator("[data-field=name]").inner_text() == "Signe Holm"
    row = page.locator("tr[data-purpose=sales-and-service]")
    assert "Salg og kundeservice" in row.inner_text()
    assert "Jeg accepterer, at virksomheden opbevarer" in row.inner_text()
    assert "version 1 (da)" in row.inner_text()
    assert page.locator("a.privacy-policy").get_attribute("href") == "https://example.com/privacy"
    assert "Mailchimp" in page.locator("table.sub-processors").inner_text()
    assert "2020-06-01" in page.locator("table.sub-processors").inner_text()
    assert screenshot.startswith(b"\x89PNG")
    assert len(screenshot) > 10_000  # a rendered page, not a blank one
    assert page.pdf().startswith(b"%PDF")  # the print stylesheet lays it out for paper

    # The screenshot is evidence in its own right: attach it to the consent event
    stored = _upload(admin_api, contact_id, event_id, screenshot, "image/png")
    assert _checked(admin_api, contact_id, stored["file_id"])["status"] == "verified"


def test_a_wrong_content_type_upload_is_rejected_and_deleted(api: httpx.Client, admin_api: httpx.Client) -> None:
    _, contact_id, event_id = _person(api, admin_api)

    not_an_image = b"<html><body>not a screenshot</body></html>" * 20
    stored = _upload(admin_api, contact_id, event_id, not_an_image, "image/png")

    checked = _checked(admin_api, contact_id, stored["file_id"])
    assert (checked["status"], checked["rejection"]) == ("rejected", "type_not_allowed")
    refused = admin_api.post(
        f"/v1/admin/contacts/{contact_id}/events/{event_id}/evidence",
        params={"content_type": "text/html", "size_bytes": 100, "sha256": "a" * 64},
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "unsupported_evidence_type")


def test_the_cli_imports_a_declared_csv_and_reports_its_bad_rows(
    admin_api: httpx.Client, local_stack: RunningStack, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    csv = tmp_path / "fair.csv"
    csv.write_text(
        f"email,first_name\nfair-{tag}-1@example.dk,Ole\nnot-an-address,Per\nfair-{tag}-2@example.dk,Lis\n",
        encoding="utf-8",
    )
    command = [
        str(Path(sys.executable).with_name("samtykke")),
        "imports",
        "--api-url",
        local_stack.api_url,
        "--api-key",
        str(local_stack.info["admin_api_key"]),
        "create",
        str(csv),
        "--purpose",
        "e-marketing",
        "--source",
        "import",
        "--legal-basis",
        "consent",
        "--description",
        "Sign-up sheet from the spring fair, kept in the shop's binder",
        "--wait",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert finished.returncode == 0, finished.stderr
    assert "completed" in finished.stdout
    assert "line 3: invalid invalid_email" in finished.stdout
    log = admin_api.get("/v1/admin/consent-log", params={"email": f"fair-{tag}-2@example.dk"}).json()
    assert [(e["type"], e["legal_basis"], e["source"]) for e in log["events"]] == [("import", "consent", "import")]


def test_export_then_erase_over_http(api: httpx.Client, admin_api: httpx.Client) -> None:
    email, contact_id, _ = _person(api, admin_api, first_name="Emil")

    exported = admin_api.get("/v1/admin/contacts/export", params={"email": email})
    assert exported.status_code == 200
    assert exported.json()["contact"]["profile"]["email"] == email
    html = admin_api.get(f"/v1/admin/contacts/{contact_id}/export", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "Emil" in html.text

    erased = admin_api.post(f"/v1/admin/contacts/{contact_id}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] is True
    gone = admin_api.get("/v1/admin/contacts/export", params={"email": email})
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "contact_not_found")
