"""Helpers for the evidence tests: posting as a web form, the confirmation link, and the export."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from typing import Any

from samtykke.local.outbox import read_outbox
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.rights_support import admin_call

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
ApiEvent = Callable[..., dict[str, Any]]


def post_consent(invoke: Invoke, api_event: ApiEvent, body: dict[str, Any]) -> dict[str, Any]:
    return invoke("consent_capture", api_event("consent_capture_json", json_body=body))


def confirm_tokens(to: str) -> list[str]:
    """The confirmation tokens mailed to `to`, oldest first."""
    found = []
    for mail in read_outbox(to=to):
        message = email.message_from_string(mail["raw"], policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        found += re.findall(r"/v1/public/confirm/([A-Za-z0-9_\-.]+)", text)
    return found


def open_confirm(
    invoke: Invoke, api_event: ApiEvent, token: str, *, method: str = "POST", user_agent: str | None = None
) -> dict[str, Any]:
    name = "confirm_post" if method == "POST" else "confirm"
    event = api_event(name, path=f"/v1/public/confirm/{token}", path_parameters={"token": token})
    if user_agent:
        event["headers"]["user-agent"] = event["requestContext"]["http"]["userAgent"] = user_agent
    return invoke("consent_capture", event)


def export_of(invoke: Invoke, api_event: ApiEvent, tenant: TenantFixture, contact_id: str) -> dict[str, Any]:
    response = admin_call(api_event, invoke, tenant, "GET", f"/v1/admin/contacts/{contact_id}/export")
    assert response["statusCode"] == 200, response["body"]
    document: dict[str, Any] = body_of(response)
    return document


def confirm_sms_link(invoke: Invoke, api_event: ApiEvent, phone: str) -> dict[str, Any]:
    """Opens the link in the last confirmation SMS to `phone` (E.164) and presses its button."""
    texts = [m["text"] for m in read_outbox(to=phone) if m["channel"] == "sms"]
    assert texts, f"no SMS to {phone}"
    match = re.search(r"/v1/public/confirm/([A-Za-z0-9_\-.]+)", texts[-1])
    assert match, texts[-1]
    return open_confirm(invoke, api_event, match.group(1))
