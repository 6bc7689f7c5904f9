"""The footer of a campaign email: why the person gets it, and the visible unsubscribe and preference links."""

from __future__ import annotations

import re

from samtykke.templates import messages, render_page

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def campaign_footer(
    locale: str,
    *,
    tenant_name: str,
    purpose_name: str,
    unsubscribe_url: str,
    preference_url: str,
    privacy_policy_url: str | None,
    transactional: bool,
) -> tuple[str, str]:
    """Plain text and HTML of the footer. A transactional message does not claim the person agreed to it."""
    m = messages(locale)
    footer = "" if transactional else m["mail_footer"].format(tenant=tenant_name, purpose=purpose_name)
    lines = ["", "-- ", *([footer] if footer else []), f"{m['mail_unsubscribe']}: {unsubscribe_url}"]
    lines.append(f"{m['mail_preferences']}: {preference_url}")
    if privacy_policy_url:
        lines.append(f"{m['privacy_policy']}: {privacy_policy_url}")
    html = render_page(
        "campaign_footer.html",
        locale,
        footer=footer,
        unsubscribe_url=unsubscribe_url,
        preference_url=preference_url,
        privacy_url=privacy_policy_url,
    )
    return "\n".join(lines) + "\n", html


def with_footer(html: str, footer_html: str) -> str:
    """The footer goes just before `</body>` when the HTML has one, else at the end."""
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return f"{html}\n{footer_html}"
    at = ends[-1].start()
    return f"{html[:at]}{footer_html}\n{html[at:]}"
