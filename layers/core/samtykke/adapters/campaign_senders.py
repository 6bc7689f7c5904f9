"""Sending campaign messages: email through SES v2 `SendBulkEmail`, up to 50 recipients a call, SMS through SNS
Publish to the phone number.

Bulk email: each entry carries its recipient's own subject, text and HTML as template data for one of two stored
templates (`{{{subject}}}`, `{{{text}}}`, `{{{html}}}`; with or without an HTML part), its own headers
(`ReplacementHeaders`: List-Unsubscribe and List-Unsubscribe-Post with the recipient's signed link, our
X-Samtykke-* headers) and its own contact tag, so bounces and complaints come back to the contact. The templates are
created once per container (`CreateEmailTemplate`; an existing one is used as is). SES answers per entry: a
refused entry is that recipient's failure, a throttled or transient one is retried later, alone.

Errors are sorted three ways, so the sender can tell what to do with the recipient:
- throttling and service faults: `RetryableError` (the queue message comes back later; nothing is recorded as sent);
- a recipient SES or SNS refuses (a malformed address, a rejected message): `RecipientRejected`, recorded as failed;
- anything else (access denied, a missing configuration set, sending paused): `RetryableError` as well, so a
  misconfiguration ends in the DLQ, with its alarm, instead of marking a whole audience as failed;
- a connection that failed after the request may have reached the provider (a lost reply, a read timeout):
  `OutcomeUnknown`. Neither SES nor SNS takes an idempotency key, so such a send is never repeated: a recipient may
  miss one message, but never gets two. Sends go through clients without botocore's retries for that reason;
  a provider fault (5xx) and a connection that never opened are retried here, since nothing was sent.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from samtykke.adapters import aws
from samtykke.adapters.errors import error_code, translate_aws_errors
from samtykke.domain.errors import RetryableError, SamtykkeError
from samtykke.domain.mail import OutgoingEmail
from samtykke.domain.pacing import SendQuota

T = TypeVar("T")

RECIPIENT_ERRORS = frozenset(
    {
        "MessageRejected",
        "BadRequestException",
        "InvalidParameterValue",
        "InvalidParameter",
        "InvalidParameterException",
        "InvalidParameterValueException",
    }
)


SEND_ATTEMPTS = 3
PROVIDER_FAULTS = frozenset({"InternalFailure", "InternalServerError", "InternalError", "ServiceUnavailable"})


class OutcomeUnknown(SamtykkeError):
    """The send may or may not have reached the provider; it must not be repeated."""

    code = "outcome_unknown"
    status = 502


class RecipientRejected(SamtykkeError):
    """The provider refused this one recipient or message; retrying would not help."""

    code = "recipient_rejected"
    status = 422


def _send_once(send: Callable[[], T]) -> T:
    """Calls `send`, retrying only what provably sent nothing: a provider fault, a connection that never opened."""
    for attempt in range(SEND_ATTEMPTS):
        try:
            return send()
        except ClientError as exc:
            if error_code(exc) not in PROVIDER_FAULTS or attempt == SEND_ATTEMPTS - 1:
                raise
        except (EndpointConnectionError, ConnectTimeoutError):
            if attempt == SEND_ATTEMPTS - 1:
                raise
        except BotoCoreError as exc:
            raise OutcomeUnknown("The provider's answer was lost; the message may have gone out") from exc
        time.sleep(random.uniform(0, 0.1 * 2**attempt))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")


@contextmanager
def _sorted_errors() -> Iterator[None]:
    try:
        with translate_aws_errors():
            yield
    except ClientError as exc:
        code = error_code(exc)
        if code in RECIPIENT_ERRORS:
            raise RecipientRejected("The provider refused the recipient", code=f"provider_{code}") from exc
        raise RetryableError(f"The provider refused the send ({code}); retry", code="provider_unavailable") from exc


@contextmanager
def _retryable(message: str, *, code: str) -> Iterator[None]:
    """Every failure of a call that sends nothing (storing a template, reading the quota) as a `RetryableError`:
    the chunk comes back later and, if the failure lasts, ends in the DLQ with its alarm; nobody is failed."""
    try:
        with translate_aws_errors():
            yield
    except ClientError as exc:
        raise RetryableError(f"{message} ({error_code(exc)})", code=code) from exc
    except BotoCoreError as exc:
        raise RetryableError(message, code=code) from exc


_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.@-]{1,256}$")


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Message tags SES accepts; a value it would refuse is left out (the headers still name the tenant)."""
    return [{"Name": name, "Value": value} for name, value in tags.items() if value and _TAG_VALUE.match(value)]


BULK_LIMIT = 50  # SendBulkEmail's entries per call
# Two stored templates whose every part is the entry's own; the version in the name changes with their content.
TEMPLATES = {
    False: ("samtykke-campaign-text-v1", {"Subject": "{{{subject}}}", "Text": "{{{text}}}"}),
    True: ("samtykke-campaign-html-v1", {"Subject": "{{{subject}}}", "Text": "{{{text}}}", "Html": "{{{html}}}"}),
}
# Per-entry statuses that one recipient's message caused; every other non-success is retried later.
_ENTRY_REJECTED = frozenset({"MESSAGE_REJECTED", "INVALID_PARAMETER"})


@dataclass(frozen=True)
class BulkOutcome:
    """One entry's answer: a message id, a refusal (`rejected`: its code), a retry, or a lost answer."""

    message_id: str | None = None
    rejected: str | None = None
    retry: bool = False
    unconfirmed: bool = False


class BulkMailer:
    """Campaign email in bulk: `send_bulk` sends one campaign's messages (one sender), 50 to a call."""

    _ready: ClassVar[set[tuple[int, str]]] = set()  # (client, template) pairs known to exist, per container
    _ready_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, configuration_set: str = "") -> None:
        self._configuration_set = configuration_set

    def send_bulk(self, items: Sequence[tuple[OutgoingEmail, Mapping[str, str]]]) -> list[BulkOutcome]:
        """One outcome per item, in order. Items are grouped by template and sent in calls of up to 50."""
        outcomes: list[BulkOutcome | None] = [None] * len(items)
        for with_html in (False, True):
            indexes = [i for i, (message, _) in enumerate(items) if (message.html is not None) is with_html]
            for start in range(0, len(indexes), BULK_LIMIT):
                batch = indexes[start : start + BULK_LIMIT]
                for index, outcome in zip(batch, self._send_batch([items[i] for i in batch], with_html), strict=True):
                    outcomes[index] = outcome
        return [outcome or BulkOutcome(retry=True) for outcome in outcomes]

    def quota(self) -> SendQuota:
        """The account's send quota and its use in the last 24 hours (GetAccount); any failure is retryable."""
        with _retryable("SES did not give its send quota", code="quota_unknown"):
            answer = aws.sesv2().get_account()["SendQuota"]
        return SendQuota(
            max_send_rate=float(answer.get("MaxSendRate", 1)),
            max_24_hour_send=float(answer.get("Max24HourSend", 200)),
            sent_last_24_hours=float(answer.get("SentLast24Hours", 0)),
        )

    def _send_batch(self, items: list[tuple[OutgoingEmail, Mapping[str, str]]], with_html: bool) -> list[BulkOutcome]:
        try:
            template = self._template(with_html)
        except RetryableError:
            return [BulkOutcome(retry=True)] * len(items)  # nothing sent: every claim is given back
        request: dict[str, Any] = {
            "FromEmailAddress": items[0][0].sender,
            "DefaultContent": {"Template": {"TemplateName": template, "TemplateData": "{}"}},
            "BulkEmailEntries": [_entry(message, tags) for message, tags in items],
        }
        common = dict(set.intersection(*(set(tags.items()) for _, tags in items)))
        if common:
            request["DefaultEmailTags"] = _tags(common)
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            with _sorted_errors():
                answer = _send_once(lambda: aws.sesv2_send_once().send_bulk_email(**request))
        except RecipientRejected:
            if len(items) == 1:
                raise
            # SES refused the call for something in one entry: each alone, so only that recipient fails.
            return [self._one(item, with_html) for item in items]
        except OutcomeUnknown:
            return [BulkOutcome(unconfirmed=True)] * len(items)
        except RetryableError:
            return [BulkOutcome(retry=True)] * len(items)
        return [_outcome(result) for result in answer["BulkEmailEntryResults"]]

    def _one(self, item: tuple[OutgoingEmail, Mapping[str, str]], with_html: bool) -> BulkOutcome:
        try:
            return self._send_batch([item], with_html)[0]
        except RecipientRejected as exc:
            return BulkOutcome(rejected=exc.code)

    def _template(self, with_html: bool) -> str:
        """The stored template's name, created first if this container has not yet seen it. Any failure to store it
        is a `RetryableError`: a misconfiguration keeps the chunk coming back until the DLQ, and fails nobody."""
        name, content = TEMPLATES[with_html]
        client = aws.sesv2()
        if (id(client), name) in self._ready:
            return name
        # A lost reply is retried by botocore, and the retry finds the template stored: AlreadyExists is success.
        with self._ready_lock, _retryable("SES did not store the campaign template", code="template_refused"):
            try:
                client.create_email_template(TemplateName=name, TemplateContent=content)  # type: ignore[arg-type]
            except ClientError as exc:
                if error_code(exc) != "AlreadyExistsException":
                    raise
            self._ready.add((id(client), name))
        return name


def _entry(message: OutgoingEmail, tags: Mapping[str, str]) -> dict[str, Any]:
    data = {"subject": message.subject, "text": message.text, "html": message.html or ""}
    return {
        "Destination": {"ToAddresses": [message.to]},
        "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": json.dumps(data)}},
        "ReplacementHeaders": [{"Name": name, "Value": value} for name, value in message.headers.items()],
        "ReplacementTags": _tags(tags),
    }


def _outcome(result: Mapping[str, Any]) -> BulkOutcome:
    status = result.get("Status")
    if status == "SUCCESS":
        return BulkOutcome(message_id=result.get("MessageId"))
    if status in _ENTRY_REJECTED:
        return BulkOutcome(rejected=f"provider_{status}")
    return BulkOutcome(retry=True)


class SmsSender:
    def send(self, phone: str, text: str, *, transactional: bool) -> str:
        """Publishes one SMS to an E.164 number; returns SNS's message id."""
        sms_type = "Transactional" if transactional else "Promotional"
        with _sorted_errors():
            result = _send_once(
                lambda: aws.sns_send_once().publish(
                    PhoneNumber=phone,
                    Message=text,
                    MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": sms_type}},
                )
            )
        return result["MessageId"]
