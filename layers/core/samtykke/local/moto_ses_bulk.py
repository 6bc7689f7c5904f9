"""SES v2 `SendBulkEmail`, stored email templates and `GetAccount`'s send quota for moto, which implements none of
them (moto 5.1).

Kept beside `moto_speedups.py`: the local stack, the tests and the benchmark install it (`install()`), so a
campaign sent in bulk lands in moto's SES outbox as one raw MIME message per recipient, exactly as SES would deliver
it: the template's parts with the entry's `ReplacementTemplateData` substituted, and the entry's
`ReplacementHeaders` (List-Unsubscribe) as headers. `{{{name}}}` substitutes as is and `{{name}}` HTML-escaped, as
SES's templates do. Statuses per entry follow SES: SUCCESS with a message id, MESSAGE_REJECTED for an unverified
sender (moto's own check).

`GetAccount` answers a production account's `SendQuota`: `SentLast24Hours` counts moto's outbox, and the limits are
`SAMTYKKE_LOCAL_SES_MAX_SEND_RATE` (default 1000 a second) and `SAMTYKKE_LOCAL_SES_MAX_24_HOUR_SEND` (default
1,000,000), read at each call, so that a test or a developer can try the sender's pacing at a new account's 14.
"""

from __future__ import annotations

import html
import json
import os
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from moto.ses.exceptions import MessageRejectedError
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.models import sesv2_backends
from moto.sesv2.responses import SESV2Response

_TEMPLATES: dict[tuple[str, str, str], dict[str, str]] = {}  # (account, region, name) -> TemplateContent
_PLACEHOLDER = re.compile(r"\{\{\{\s*(\w+)\s*\}\}\}|\{\{\s*(\w+)\s*\}\}")


def render(template: str, data: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        raw, escaped = match.groups()
        if raw:
            return str(data.get(raw, ""))
        return html.escape(str(data.get(escaped, "")))

    return _PLACEHOLDER.sub(value, template)


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    return status, {"x-amzn-ErrorType": code}, json.dumps({"message": message})


def _create_email_template(self: SESV2Response) -> Any:
    params = json.loads(self.body)
    key = (self.current_account, self.region, params["TemplateName"])
    if key in _TEMPLATES:
        return _error(400, "AlreadyExistsException", f"Template {params['TemplateName']} already exists")
    _TEMPLATES[key] = params["TemplateContent"]
    return "{}"


def _get_email_template(self: SESV2Response) -> Any:
    name = self.path.rstrip("/").rsplit("/", 1)[-1]
    content = _TEMPLATES.get((self.current_account, self.region, name))
    if content is None:
        return _error(404, "NotFoundException", f"Template {name} does not exist")
    return json.dumps({"TemplateName": name, "TemplateContent": content})


MAX_SEND_RATE_ENV = "SAMTYKKE_LOCAL_SES_MAX_SEND_RATE"
MAX_24_HOUR_SEND_ENV = "SAMTYKKE_LOCAL_SES_MAX_24_HOUR_SEND"


def _get_account(self: SESV2Response) -> Any:
    backend = sesv2_backends[self.current_account][self.region].core_backend
    quota = {
        "Max24HourSend": float(os.environ.get(MAX_24_HOUR_SEND_ENV, "1000000")),
        "MaxSendRate": float(os.environ.get(MAX_SEND_RATE_ENV, "1000")),
        "SentLast24Hours": float(backend.sent_message_count),
    }
    return json.dumps({"ProductionAccessEnabled": True, "SendingEnabled": True, "SendQuota": quota})


def _send_bulk_email(self: SESV2Response) -> Any:
    params = json.loads(self.body)
    template = params["DefaultContent"]["Template"]
    content = _TEMPLATES.get((self.current_account, self.region, template["TemplateName"]))
    if content is None:
        return _error(404, "NotFoundException", f"Template {template['TemplateName']} does not exist")
    entries = params["BulkEmailEntries"]
    if not 1 <= len(entries) <= 50:
        return _error(400, "BadRequestException", "BulkEmailEntries takes 1 to 50 entries")
    default_data = json.loads(template.get("TemplateData") or "{}")
    backend = sesv2_backends[self.current_account][self.region].core_backend
    results = []
    for entry in entries:
        replacement = entry.get("ReplacementEmailContent", {}).get("ReplacementTemplate", {})
        data = default_data | json.loads(replacement.get("ReplacementTemplateData") or "{}")
        recipients = entry["Destination"].get("ToAddresses", [])
        message = EmailMessage()
        message["From"] = params["FromEmailAddress"]
        message["To"] = ", ".join(recipients)
        message["Subject"] = render(content.get("Subject", ""), data)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="amazonses.com")
        for header in [*template.get("Headers", []), *entry.get("ReplacementHeaders", [])]:
            message[header["Name"]] = header["Value"]
        message.set_content(render(content.get("Text", ""), data))
        if content.get("Html"):
            message.add_alternative(render(content["Html"], data), subtype="html")
        # Headers fold only past RFC 5322's 998 characters, as SES sends them: a folded List-Unsubscribe URL
        # would turn into RFC 2047 encoded words.
        raw = message.as_string(policy=message.policy.clone(max_line_length=998))
        try:
            sent = backend.send_raw_email(source=params["FromEmailAddress"], destinations=recipients, raw_data=raw)
        except MessageRejectedError as exc:
            results.append({"Status": "MESSAGE_REJECTED", "Error": exc.message})
            continue
        results.append({"Status": "SUCCESS", "MessageId": sent.id})
    return json.dumps({"BulkEmailEntryResults": results})


def install() -> None:
    """Teach moto's SES v2 the four operations (idempotent; moto dispatches by method name). The server routes
    only the paths its URL table names, so the operations' paths join it (before the server's first SES request)."""
    for path in (
        "{0}/v2/email/outbound-bulk-emails$",
        "{0}/v2/email/templates$",
        "{0}/v2/email/templates/(?P<name>[^/]+)$",
        "{0}/v2/email/account$",
    ):
        sesv2_urls.url_paths.setdefault(path, SESV2Response.dispatch)
    SESV2Response.send_bulk_email = _send_bulk_email  # type: ignore[attr-defined]
    SESV2Response.create_email_template = _create_email_template  # type: ignore[attr-defined]
    SESV2Response.get_email_template = _get_email_template  # type: ignore[attr-defined]
    SESV2Response.get_account = _get_account  # type: ignore[attr-defined]
