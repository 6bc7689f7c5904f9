"""Composing outgoing email as MIME. Pure: the SES adapter only ships the bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


@dataclass(frozen=True)
class OutgoingEmail:
    sender: str
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def compose(message: OutgoingEmail) -> bytes:
    mime = EmailMessage()
    mime["From"] = message.sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    mime["Message-ID"] = make_msgid(domain=message.sender.rsplit("@", 1)[-1])
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    # Headers fold only past RFC 5322's hard limit (998): the default (78) would split a long List-Unsubscribe URL
    # into RFC 2047 encoded words, which mail clients do not decode in that header, so one-click would break.
    return mime.as_bytes(policy=mime.policy.clone(max_line_length=998))
