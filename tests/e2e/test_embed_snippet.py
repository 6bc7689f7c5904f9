"""The embeddable form in headless Chromium, on a page of another origin under a strict CSP.

The page is served from its own port (another origin), which the test puts on the demo tenant's allow-list. Its CSP
allows scripts and connections to the API's origin only, and no inline script, eval, styles or cookies.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.e2e

MAX_BYTES = 10 * 1024
# Chromium has no Global Privacy Control of its own; the browser extension or setting that sends it does this.
GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
RECORD_VIOLATIONS = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective));"
)


@pytest.fixture
def host_page(local_stack: Any, admin_api: httpx.Client) -> Iterator[str]:
    """A shop's page on another origin, with the snippet and a strict CSP; that origin on the allow-list."""
    api = local_stack.api_url
    html = (
        '<!doctype html><html lang="da-DK"><head><meta charset="utf-8"><title>Shop</title></head><body>'
        '<h1>Nyhedsbrev</h1><div id="signup"></div>'
        f'<script src="{api}/v1/public/demo/embed.js" data-target="signup" data-purposes="e-marketing" defer></script>'
        "</body></html>"
    ).encode()
    csp = (
        f"default-src 'none'; script-src {api}; connect-src {api}; style-src 'none'; img-src 'none'; "
        "base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'"
    )

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    assert origin != api
    settings = admin_api.get("/v1/admin/settings").json()
    allowed = [*settings["allowed_origins"], origin]
    assert admin_api.patch("/v1/admin/settings", json={"allowed_origins": allowed}).status_code == 200
    try:
        yield f"{origin}/shop"
    finally:
        admin_api.patch("/v1/admin/settings", json={"allowed_origins": settings["allowed_origins"]})
        server.shutdown()
        server.server_close()


def test_the_snippet_is_small_plain_javascript(api: httpx.Client) -> None:
    script = api.get("/v1/public/demo/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert len(script.content) < MAX_BYTES
    assert "eval(" not in script.text
    assert "new Function" not in script.text
    assert "innerHTML" not in script.text
    assert "document.cookie" not in script.text
    assert api.get("/v1/public/no-such-tenant/embed.js").status_code == 404


def test_the_snippet_renders_posts_with_gpc_and_shows_the_danish_result(
    browser: Browser, host_page: str, admin_api: httpx.Client
) -> None:
    context = browser.new_context()
    context.add_init_script(GPC_ON + RECORD_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    texts = admin_api.get("/v1/admin/consent-texts", params={"purpose": "e-marketing", "locale": "da"}).json()
    current = max(texts, key=lambda t: t["version"])
    address = f"embed-{uuid.uuid4().hex[:8]}@example.dk"

    page.goto(host_page)

    form = page.locator("#signup form.samtykke-form")
    expect(form).to_be_visible()
    purpose = form.locator("label.samtykke-purpose")
    expect(purpose).to_have_count(1)
    expect(purpose.locator(".samtykke-purpose-text")).to_have_text(current["text"])
    form.get_by_role("textbox", name="E-mail").fill(address)
    purpose.locator("input[type=checkbox]").check()
    form.get_by_role("button", name="Tilmeld").click()

    expect(form.get_by_role("status")).to_have_text(
        "Tak. Bekræft venligst via linket, vi lige har sendt til din e-mail."
    )
    assert page.evaluate("window.__violations") == []
    assert errors == []
    assert context.cookies() == []
    context.close()

    log = admin_api.get("/v1/admin/consent-log", params={"email": address})
    assert log.status_code == 200, log.text
    (event,) = log.json()["events"]
    assert (event["purpose"], event["status"], event["source"]) == ("e-marketing", "pending", "web-form")
    assert (event["text"]["locale"], event["text"]["version"]) == ("da", current["version"])
    assert event["evidence"]["global_privacy_control"] is True
    assert event["evidence"]["page_url"] == host_page
