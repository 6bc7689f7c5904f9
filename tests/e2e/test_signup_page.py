"""A person signs up on the demo page in a real browser, and the consent shows up in the log."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def test_a_signup_in_the_browser_lands_in_the_consent_log(
    local_stack: RunningStack, page: Page, admin_api: httpx.Client
) -> None:
    email = f"signup-{uuid.uuid4().hex[:8]}@example.dk"
    page.goto(local_stack.info["demo_url"])

    page.get_by_label("Email address").fill(email)
    page.get_by_label("e-marketing").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Sign up").click()

    assert page.url == f"{local_stack.api_url}/demo/thanks"
    assert page.get_by_role("heading", name="Thank you").is_visible()
    log = admin_api.get("/v1/admin/consent-log", params={"email": email})
    assert log.status_code == 200
    events = log.json()["events"]
    assert [(event["type"], event["purpose"]) for event in events] == [("grant", "e-marketing")]
