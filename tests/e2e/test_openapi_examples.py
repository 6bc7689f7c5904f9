"""The OpenAPI document is a working manual: every request body carries an example that works as it is."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

# Values for path parameters that exist on the demo tenant.
DEMO_PATH_VALUES = {
    "tenant_id": "demo",
    "purpose_id": "e-marketing",
    "source_id": "web-form",
    "code": "consent",
    "user_id": "usr_demo_editor",  # seeded by bootstrap.seed_demo_staff
    "subscription_id": "whk_demo",  # seeded by bootstrap.seed_demo_webhook (paused)
}
# An operation whose body needs a live value (a current TOTP code, a refresh token, an emailed one-time token)
# says so with this extension; its example shows the shape, and the staff e2e tests exercise it with live values.
LIVE_INPUT = "x-samtykke-live-input"


def _operations_with_bodies(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content and not operation.get(LIVE_INPUT):
                ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                found.append((method.upper(), path, document["components"]["schemas"][ref]))
    # Public examples first: the consent capture example makes the demo contact that admin examples name.
    return sorted(found, key=lambda operation: not operation[1].startswith("/v1/public/"))


def test_every_request_body_example_works_against_the_demo_tenant(api: httpx.Client, admin_api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    operations = _operations_with_bodies(document)
    assert len(operations) >= 8

    for method, path, schema in operations:
        assert "example" in schema, f"{method} {path}: its body schema has no example"
        url = re.sub(r"\{(\w+)\}", lambda m: DEMO_PATH_VALUES[m.group(1)], path)
        client = admin_api if path.startswith("/v1/admin/") else api
        response = client.request(method, url, json=schema["example"])
        assert response.status_code < 400, f"{method} {url}: {response.status_code} {response.text}"


def test_every_admin_operation_declares_its_permission(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        if path.startswith("/v1/admin/"):
            for method, operation in operations.items():
                assert operation.get("x-samtykke-permission"), f"{method.upper()} {path} declares no permission"
                assert operation.get("security") == [{"bearerAuth": []}]
