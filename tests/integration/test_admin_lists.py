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


PEOPLE = [
    ("anna@example.dk", "Anna", "Hansen", ["sales-and-service"]),
    ("bo@example.dk", "Bo", "Jensen", ["sales-and-service", "e-marketing"]),
    ("anders@example.dk", "Anders", "Berg", ["sales-and-service"]),
    ("cecilie@example.dk", "Cecilie", "Andersen", ["sales-and-service", "e-marketing"]),
    ("dorte@example.dk", "Dorte", "Nielsen", ["sales-and-service"]),
]


@pytest.fixture
def people(invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture) -> list[str]:
    """Five contacts, made in this order; two also asked for e-marketing, which waits for double opt-in."""
    contact_ids = []
    for email, first, last, purposes in PEOPLE:
        body = {"email": email, "first_name": first, "last_name": last, "purpose": purposes, "locale": "da"}
        response = invoke("consent_capture", api_event("consent_capture_json", json_body=body))
        assert response["statusCode"] == 201, response["body"]
        contact_ids.append(json.loads(response["body"])["contact_id"])
    return contact_ids


def test_contacts_list_over_several_pages_in_creation_order(admin: Callable[..., Any], people: list[str]) -> None:
    pages = every_page(admin, "/v1/admin/contacts", "contacts", limit="2")

    assert [c["contact_id"] for page in pages for c in page] == people
    assert len(pages) == 3
    assert pages[0][0] | {"created_at": None} == {
        "contact_id": people[0],
        "email": "anna@example.dk",
        "phone": None,
        "first_name": "Anna",
        "last_name": "Hansen",
        "locale": "da",
        "created_at": None,
        "status": None,
    }


def test_contacts_filtered_by_purpose_and_status_name_and_date(admin: Callable[..., Any], people: list[str]) -> None:
    pending = every_page(
        admin, "/v1/admin/contacts", "contacts", limit="1", purpose="e-marketing", channel="email", status="pending"
    )
    assert [(c["contact_id"], c["status"]) for p in pending for c in p] == [
        (people[1], "pending"),
        (people[3], "pending"),
    ]
    granted = every_page(
        admin, "/v1/admin/contacts", "contacts", purpose="e-marketing", channel="email", status="granted"
    )
    assert granted == [[]]

    by_name = every_page(admin, "/v1/admin/contacts", "contacts", limit="2", name_prefix="AND")
    assert [c["first_name"] for p in by_name for c in p] == ["Anders", "Cecilie"]  # first name, or last name

    today = every_page(admin, "/v1/admin/contacts", "contacts", created_from="2000-01-01")
    assert len([c for p in today for c in p]) == 5
    assert every_page(admin, "/v1/admin/contacts", "contacts", created_to="2000-01-01") == [[]]


def test_contacts_list_refuses_what_it_cannot_answer(admin: Callable[..., Any], people: list[str]) -> None:
    status, body = admin("GET", "/v1/admin/contacts", query={"status": "granted"})
    assert (status, body["error"]["code"]) == (422, "purpose_required")
    status, body = admin("GET", "/v1/admin/contacts", query={"purpose": "nope"})
    assert (status, body["error"]["code"]) == (422, "unknown_purpose")
    status, body = admin("GET", "/v1/admin/contacts", query={"purpose": "e-marketing"})  # email and sms
    assert (status, body["error"]["code"]) == (422, "channel_required")

    status, page = admin("GET", "/v1/admin/contacts", query={"limit": "1"})
    assert status == 200
    other_list = {"purpose": "sales-and-service", "channel": "email", "cursor": page["next_cursor"]}
    status, body = admin("GET", "/v1/admin/contacts", query=other_list)
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


def test_an_author_sees_masked_addresses_and_every_page_is_audited(
    invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture, svc: Any, people: list[str]
) -> None:
    from samtykke.services import audit

    event = api_event(
        "admin_request",
        path="/v1/admin/contacts",
        path_parameters={"proxy": "contacts"},
        query={"limit": "3"},
        authorizer=tenant.authorizer(Role.AUTHOR),
    )
    event["requestContext"]["http"]["method"] = "GET"
    response = invoke("admin_api", event)
    assert response["statusCode"] == 200, response["body"]
    listed = json.loads(response["body"])["contacts"]
    assert [c["contact_id"] for c in listed] == people[:3]
    assert all(
        c["email"] != email and c["email"].endswith("@example.dk")
        for c, (email, *_) in zip(listed, PEOPLE, strict=False)
    )
    assert "anna@example.dk" not in response["body"]

    month = svc.clock().strftime("%Y-%m")
    entries, _ = audit.query(svc, tenant.tenant_id, month, action="contacts.listed")
    assert [entry["details"]["contact_ids"] for entry in entries] == [people[:3]]
    assert entries[0]["actor"]["role"] == "author"


@pytest.fixture
def admin_raw(invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture) -> Callable[..., Any]:
    def call(path: str, query: dict[str, str]) -> dict[str, Any]:
        event = api_event(
            "admin_request",
            path=path,
            path_parameters={"proxy": path.removeprefix("/v1/admin/")},
            query=query,
            authorizer=tenant.authorizer(Role.ADMIN),
        )
        event["requestContext"]["http"]["method"] = "GET"
        return invoke("admin_api", event)

    return call


def pages_by_header(admin_raw: Callable[..., Any], path: str, **query: str) -> list[list[dict[str, Any]]]:
    """Every page of an in-memory list, following `X-Next-Cursor`; checks `Link` names the same next page."""
    pages, cursor = [], None
    while True:
        response = admin_raw(path, query | ({"cursor": cursor} if cursor else {}))
        assert response["statusCode"] == 200, response["body"]
        pages.append(json.loads(response["body"]))
        headers = {k.lower(): v for k, v in response["headers"].items()}
        cursor = headers.get("x-next-cursor")
        if cursor is None:
            assert "link" not in headers
            return pages
        assert headers["link"].startswith(f"<{path}?")
        assert f"cursor={cursor}" in headers["link"]
        assert headers["link"].endswith('>; rel="next"')


def test_catalogue_users_and_keys_page_in_a_stable_order(
    admin: Callable[..., Any], admin_raw: Callable[..., Any]
) -> None:
    # Given three more purposes, two more sources and three versions of one text
    for purpose_id in ("c-purpose", "a-purpose", "b-purpose"):
        body = {"purpose_id": purpose_id, "names": {"en": purpose_id}, "channels": ["email"]}
        assert admin("POST", "/v1/admin/purposes", json_body=body)[0] == 201
    for source_id in ("kiosk", "fair"):
        assert admin("POST", "/v1/admin/sources", json_body={"source_id": source_id, "label": source_id})[0] == 201
    for text in ("one", "two", "three"):
        body = {"purpose_id": "a-purpose", "locale": "da", "text": text}
        assert admin("POST", "/v1/admin/consent-texts", json_body=body)[0] == 201
    for label in ("k1", "k2"):
        assert admin("POST", "/v1/admin/api-keys", json_body={"label": label, "role": "viewer"})[0] == 201

    # Then each list pages two at a time to the same rows, in its order, as the unpaged list
    for path, key, query in (
        ("/v1/admin/purposes", "purpose_id", {}),
        ("/v1/admin/sources", "source_id", {}),
        ("/v1/admin/consent-texts", "version", {"purpose": "a-purpose"}),
        ("/v1/admin/api-keys", "key_id", {}),
        ("/v1/admin/users", "user_id", {}),
    ):
        everything = json.loads(admin_raw(path, query)["body"])
        pages = pages_by_header(admin_raw, path, limit="2", **query)
        assert [row[key] for page in pages for row in page] == sorted(row[key] for row in everything), path
        assert all(len(page) <= 2 for page in pages)
        if len(everything) > 2:
            assert len(pages) > 1, path

    texts = pages_by_header(admin_raw, "/v1/admin/consent-texts", limit="1", purpose="a-purpose")
    assert [[t["text"] for t in page] for page in texts] == [["one"], ["two"], ["three"]]  # the history, in order


def test_an_in_memory_list_refuses_a_cursor_it_did_not_give(admin_raw: Callable[..., Any]) -> None:
    response = admin_raw("/v1/admin/purposes", {"limit": "1", "cursor": "not a cursor!"})
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_cursor"
