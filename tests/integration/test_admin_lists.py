"""Admin lists page with `limit` and `cursor` in a stable order, and filter; through the real handler, on moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from samtykke.domain.access import Role
from samtykke.models.campaign import CampaignCreate
from tests.integration.conftest import TenantFixture

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
EXAMPLE = CampaignCreate.model_json_schema()["example"] | {"segment": None}


@pytest.fixture
def admin(invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture) -> Callable[..., Any]:
    def call(method: str, path: str, *, query: dict[str, str] | None = None, json_body: Any = None) -> Any:
        event = api_event(
            "admin_request",
            path=path,
            path_parameters={"proxy": path.removeprefix("/v1/admin/")},
            query=query,
            json_body=json_body,
            authorizer=tenant.authorizer(Role.ADMIN),
        )
        event["requestContext"]["http"]["method"] = method
        response = invoke("admin_api", event)
        return response["statusCode"], json.loads(response["body"])

    return call


def every_page(admin: Callable[..., Any], path: str, key: str, **query: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        status, page = admin("GET", path, query=query | ({"cursor": cursor} if cursor else {}))
        assert status == 200, page
        pages.append(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_campaigns_list_newest_first_over_several_pages_and_filter(admin: Callable[..., Any]) -> None:
    # Given five e-marketing campaigns and two for sales-and-service
    created = []
    for number in range(5):
        status, campaign = admin("POST", "/v1/admin/campaigns", json_body=EXAMPLE | {"name": f"Email {number}"})
        assert status == 201, campaign
        created.append(campaign["campaign_id"])
    service = EXAMPLE | {"name": "Service", "purpose": "sales-and-service"}
    for _ in range(2):
        status, campaign = admin("POST", "/v1/admin/campaigns", json_body=service)
        assert status == 201, campaign
        created.append(campaign["campaign_id"])

    # When they are listed two at a time
    pages = every_page(admin, "/v1/admin/campaigns", "campaigns", limit="2")

    # Then every campaign comes once, newest first, with its status
    listed = [campaign["campaign_id"] for page in pages for campaign in page]
    assert listed == list(reversed(created))
    assert len(pages) >= 4
    assert all(campaign["status"] == "draft" for page in pages for campaign in page)

    # And filters keep only what matches, across pages
    marketing = every_page(admin, "/v1/admin/campaigns", "campaigns", limit="2", purpose="e-marketing")
    assert [c["campaign_id"] for p in marketing for c in p] == list(reversed(created[:5]))
    by_purpose = every_page(admin, "/v1/admin/campaigns", "campaigns", purpose="sales-and-service")
    assert [c["campaign_id"] for p in by_purpose for c in p] == list(reversed(created[5:]))
    assert every_page(admin, "/v1/admin/campaigns", "campaigns", channel="sms") == [[]]


def test_a_cursor_from_elsewhere_is_refused(admin: Callable[..., Any]) -> None:
    status, body = admin("GET", "/v1/admin/imports", query={"limit": "1"})
    assert status == 200
    status, body = admin("GET", "/v1/admin/campaigns", query={"cursor": "bm90LWEtY3Vyc29y"})
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
