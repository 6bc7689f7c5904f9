"""The emails that carry signed links: a fresh preference-centre link, and the admin's test message."""

from __future__ import annotations

from samtykke.templates import messages, render_page


def preference_link_email(locale: str, tenant_name: str, link: str, days: int) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the email that answers a request for a fresh preference link."""
    m = messages(locale)
    subject = m["fresh_subject"].format(tenant=tenant_name)
    intro = m["fresh_email_intro"].format(tenant=tenant_name)
    ignore = m["fresh_email_ignore"].format(days=days)
    text = f"{intro}\n\n{link}\n\n{ignore}\n"
    html = render_page("preference_link_email.html", locale, subject=subject, intro=intro, link=link, ignore=ignore)
    return subject, text, html


def marketing_test_email(
    locale: str,
    *,
    tenant_name: str,
    purpose: str,
    unsubscribe_url: str,
    preference_url: str,
    privacy_policy_url: str | None,
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a marketing-style test message, with its visible unsubscribe link."""
    m = messages(locale)
    subject = m["test_subject"].format(tenant=tenant_name)
    body = m["test_body"].format(tenant=tenant_name, purpose=purpose)
    footer = m["mail_footer"].format(tenant=tenant_name, purpose=purpose)
    lines = [
        body,
        "",
        "--",
        footer,
        f"{m['mail_unsubscribe']}: {unsubscribe_url}",
        f"{m['mail_preferences']}: {preference_url}",
    ]
    if privacy_policy_url:
        lines.append(f"{m['privacy_policy']}: {privacy_policy_url}")
    html = render_page(
        "test_message_email.html",
        locale,
        subject=subject,
        body=body,
        footer=footer,
        unsubscribe_url=unsubscribe_url,
        preference_url=preference_url,
        privacy_url=privacy_policy_url,
    )
    return subject, "\n".join(lines) + "\n", html
