"""The demo tenant's signup page: a plain HTML form, no JavaScript, posting to the real consent capture route."""

from __future__ import annotations

from html import escape
from importlib.resources import files
from string import Template
from urllib.parse import quote

DEMO_PATH = "/demo"
THANKS_PATH = "/demo/thanks"


def _template(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def signup_page(*, tenant_id: str, purposes: list[str], redirect: str) -> str:
    checkboxes = "\n".join(
        f'        <label><input type="checkbox" name="purpose" value="{escape(p)}"> {escape(p)}</label>'
        for p in purposes
    )
    return Template(_template("demo.html")).substitute(
        action=escape(f"/v1/public/{quote(tenant_id, safe='')}/consents"),
        purposes=checkboxes,
        redirect=escape(redirect),
    )


def thanks_page() -> str:
    return _template("thanks.html")
