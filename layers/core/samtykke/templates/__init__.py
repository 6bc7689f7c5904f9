"""Server-rendered, autoescaped pages and emails, in da, sv, nb, nl, de and en.

Jinja2 is imported on first render only, so paths that never render pay nothing for it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samtykke.domain.defaults import FALLBACK_LOCALE
from samtykke.templates.messages import MESSAGES

if TYPE_CHECKING:
    from jinja2 import Environment


@cache
def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code: compile each once, never stat it again per render
    )


def messages(locale: str) -> dict[str, str]:
    return MESSAGES.get(locale, MESSAGES[FALLBACK_LOCALE])


def render_page(template: str, locale: str, **context: Any) -> str:
    lang = locale if locale in MESSAGES else FALLBACK_LOCALE
    return _environment().get_template(template).render(lang=lang, m=messages(lang), **context)


def confirmation_email(locale: str, tenant_name: str, link: str, receipts: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the double opt-in email, with the link to the consent receipts."""
    m = messages(locale)
    subject = m["confirm_subject"].format(tenant=tenant_name)
    text = (
        f"{m['confirm_intro'].format(tenant=tenant_name)}\n\n{link}\n\n{m['confirm_ignore']}\n\n"
        f"{m['receipt_link']} {receipts}\n"
    )
    html = render_page("confirmation_email.html", locale, tenant=tenant_name, link=link, receipts=receipts)
    return subject, text, html
