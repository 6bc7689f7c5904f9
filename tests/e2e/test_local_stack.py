"""`samtykke local` over real HTTP: the contract's local.json, the local endpoints, routing and admin auth."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def test_local_json_holds_what_the_contract_promises(local_stack: RunningStack) -> None:
    required = {"api_url", "aws_endpoint_url", "region", "tenant_id", "admin_api_key", "outbox_url", "demo_url"}

    assert required <= set(local_stack.info)
    assert local_stack.info["api_url"].startswith("http://127.0.0.1:")


def test_the_outbox_is_a_json_list(api: httpx.Client) -> None:
    response = api.get("/_local/outbox")

    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_drain_returns_once_the_queues_are_idle(api: httpx.Client) -> None:
    response = api.post("/_local/drain")

    assert response.json() == {"drained": True}


def test_the_demo_page_loads_in_chromium(local_stack: RunningStack, page: Page) -> None:
    page.goto(local_stack.info["demo_url"])

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_label("Email address").is_visible()
    assert page.locator("input[name=purpose]").count() == len(local_stack.info["purposes"])


def test_an_unknown_route_is_a_404_json_error(api: httpx.Client) -> None:
    response = api.get("/v1/no-such-route")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "route_not_found"


def test_an_admin_route_without_a_bearer_is_401(api: httpx.Client) -> None:
    response = api.get("/v1/admin/purposes")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_an_admin_route_with_a_wrong_key_is_403(api: httpx.Client) -> None:
    response = api.get("/v1/admin/purposes", headers={"Authorization": "Bearer stk_not-a-real-key"})

    assert response.status_code == 403


def test_the_demo_key_reaches_the_admin_api(admin_api: httpx.Client) -> None:
    response = admin_api.get("/v1/admin/purposes")

    assert response.status_code == 200
    assert {"sales-and-service", "e-marketing"} <= {purpose["purpose_id"] for purpose in response.json()}


def test_the_openapi_document_is_served(api: httpx.Client) -> None:
    response = api.get("/openapi.json")

    assert response.status_code == 200
    assert "openapi" in response.json()


def test_a_schedule_can_be_run_on_demand(api: httpx.Client) -> None:
    # No clock runs EventBridge schedules locally; the stack runs one on request, with the event EventBridge sends.
    response = api.post("/_local/schedules/RetentionSweep")
    assert response.status_code == 200, response.text
    assert response.json()["schedule"] == "RetentionSweep"
    assert api.post("/_local/schedules/Nothing").status_code == 404
