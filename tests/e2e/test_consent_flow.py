"""The README's journey over real HTTP: post a consent, confirm it from the email, read the history back."""

from __future__ import annotations

import email
import email.policy
import re

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_post_confirm_and_read_back_over_http(api: httpx.Client, admin_api: httpx.Client) -> None:
    address = "journey@example.dk"
    posted = api.post(
        "/v1/public/demo/consents",
        json={"email": address, "purpose": ["e-marketing", "sales-and-service"], "locale": "nb"},
    )
    assert posted.status_code == 201, posted.text
    assert {p["purpose"]: p["status"] for p in posted.json()["purposes"]} == {
        "e-marketing": "pending",
        "sales-and-service": "granted",
    }

    mail = [m for m in api.get("/_local/outbox").json() if address in m["to"]][-1]
    text = email.message_from_string(mail["raw"], policy=email.policy.default).get_body(("plain",)).get_content()
    link = re.search(r"(http\S+/v1/public/confirm/\S+)", text)
    assert link, text
    scanned = httpx.get(link.group(1))  # a mail scanner opening the link confirms nothing
    assert scanned.status_code == 200
    assert '<form method="post">' in scanned.text
    confirmed = httpx.post(link.group(1))
    assert confirmed.status_code == 200
    assert "abonnementet ditt er bekreftet" in confirmed.text  # Norwegian, the locale of the post

    log = admin_api.get("/v1/admin/consent-log", params={"email": address}).json()
    assert log["chain_intact"] is True
    assert [(e["purpose"], e["type"], e["status"]) for e in log["events"]] == [
        ("e-marketing", "grant", "pending"),
        ("sales-and-service", "grant", "granted"),
        ("e-marketing", "confirm", "granted"),
    ]


def test_malformed_requests_get_coded_errors_over_http(api: httpx.Client) -> None:
    cases = [
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 400),
        ({"content": b"x" * 70_000, "headers": {"content-type": "application/json"}}, 413),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415),
        ({"json": {"email": "x@example.dk", "purpose": "e-marketing"}}, 422),
    ]
    for request, status in cases:
        response = api.post("/v1/public/demo/consents", **request)  # type: ignore[arg-type]
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"]
