"""What the stack "sent": emails from moto's SES backend and SMS from its SNS backend, read in-process.

Each email entry has its raw MIME and, decoded from it, `text`, `html` and `links`: every URL in the message (the
bodies and the `List-Unsubscribe` header), in order of appearance, with quoted-printable soft breaks undone. An SMS
entry has its `text` and `links`.

moto keeps sent messages without a time, so `record_send_times` swaps its two containers for ones that note when each
message arrived. Without it (e.g. under a bare `mock_aws`), `sent_at` is null.
"""

from __future__ import annotations

import email
import email.policy
import html as html_lib
import re
from collections import OrderedDict
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from moto.ses.models import Message, RawMessage, ses_backends
from moto.sns.models import sns_backends

from samtykke.local.lambdas import LOCAL_ACCOUNT_ID
from samtykke.resources import DEFAULT_REGION

URL = re.compile(r"""https?://[^\s<>"')]+""")

_sent_at: dict[str, str] = {}  # message id -> ISO time, filled by the containers below


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _TimedList(list[Any]):
    """moto's `SESBackend.sent_messages`; moto only appends to it."""

    def append(self, message: Any) -> None:
        _sent_at[message.id] = _now()
        super().append(message)


class _TimedDict(OrderedDict[str, Any]):
    """moto's `SNSBackend.sms_messages`: message id -> (phone number, text)."""

    def __setitem__(self, message_id: str, value: Any) -> None:
        _sent_at[message_id] = _now()
        super().__setitem__(message_id, value)


def sent_times() -> dict[str, str]:
    """When each message was sent, by message id (kept by `samtykke local --state`)."""
    return dict(_sent_at)


def restore_send_times(times: dict[str, str]) -> None:
    _sent_at.update(times)


def record_send_times(account_id: str = LOCAL_ACCOUNT_ID, region: str = DEFAULT_REGION) -> None:
    ses = ses_backends[account_id][region]
    ses.sent_messages = _TimedList(ses.sent_messages)
    sns = sns_backends[account_id][region]
    sns.sms_messages = _TimedDict(sns.sms_messages)


def read_outbox(
    to: str | None = None, *, account_id: str = LOCAL_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> list[dict[str, Any]]:
    """Every email and SMS sent so far, oldest first; `to` keeps those sent to that address or phone number."""
    emails = [_email_entry(message) for message in list(ses_backends[account_id][region].sent_messages)]
    sms = [
        {
            "channel": "sms",
            "message_id": message_id,
            "sent_at": _sent_at.get(message_id),
            "to": [phone],
            "text": text,
            "links": links_in(text),
        }
        for message_id, (phone, text) in list(sns_backends[account_id][region].sms_messages.items())
    ]
    entries = sorted(emails + sms, key=lambda entry: entry["sent_at"] or "")
    if to is None:
        return entries
    return [entry for entry in entries if to.lower() in (recipient.lower() for recipient in entry["to"])]


def _email_entry(message: Any) -> dict[str, Any]:
    raw = _raw_mime(message)
    parsed = email.message_from_string(raw, policy=email.policy.default) if raw else None
    headers: dict[str, str] = {}
    for name, value in parsed.items() if parsed else ():
        headers[name] = f"{headers[name]}, {value}" if name in headers else str(value)
    text, html = (_body(parsed, "plain"), _body(parsed, "html")) if parsed else (None, None)
    return {
        "channel": "email",
        "message_id": message.id,
        "sent_at": _sent_at.get(message.id),
        "from": message.source,
        "to": _addresses(message.destinations),
        "subject": headers.get("Subject"),
        "headers": headers,
        "raw": raw,
        "text": text,
        "html": html,
        "links": links_in(text or "", html_lib.unescape(html or ""), headers.get("List-Unsubscribe", "")),
        "template": getattr(message, "template", None),  # SES templated sends keep only the template name
    }


def links_in(*texts: str) -> list[str]:
    """Every URL in the texts, first appearance first, each once."""
    return list(dict.fromkeys(url.rstrip(".,;:") for text in texts for url in URL.findall(text)))


def _body(message: EmailMessage, subtype: str) -> str | None:
    """The decoded text/plain or text/html part, or None; an attachment never counts as the body."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def _raw_mime(message: Any) -> str | None:
    if isinstance(message, RawMessage):
        return message.raw_data
    if isinstance(message, Message):  # a "Simple" send: moto keeps the subject and one body, so rebuild the MIME
        mime = EmailMessage()
        mime["From"] = message.source
        mime["To"] = ", ".join(message.destinations.get("ToAddresses", []))
        mime["Subject"] = message.subject
        mime.set_content(message.body, subtype="html" if message.body.lstrip().startswith("<") else "plain")
        return mime.as_string()
    return None


def _addresses(destinations: Any) -> list[str]:
    """Bare addresses, deduplicated: moto lists a raw send's recipients both as given and from its To/Cc headers."""
    if isinstance(destinations, dict):
        destinations = [address for addresses in destinations.values() for address in addresses]
    elif destinations and isinstance(destinations[0], dict):  # bulk templated: [{"Destination": {...}}, ...]
        destinations = [a for d in destinations for a in _addresses(d.get("Destination", {}))]
    return list(dict.fromkeys(address for _, address in getaddresses(destinations) if address))
