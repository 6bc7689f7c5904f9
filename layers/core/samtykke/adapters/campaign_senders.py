"""Sending one campaign message: email as raw MIME through SES v2 (our own List-Unsubscribe headers, plus message
tags that bring bounces and complaints back), SMS through SNS Publish to the phone number.

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

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from samtykke.adapters import aws
from samtykke.adapters.errors import error_code, translate_aws_errors
from samtykke.domain.errors import RetryableError, SamtykkeError
from samtykke.domain.mail import OutgoingEmail, compose

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


_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.@-]{1,256}$")


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Message tags SES accepts; a value it would refuse is left out (the headers still name the tenant)."""
    return [{"Name": name, "Value": value} for name, value in tags.items() if value and _TAG_VALUE.match(value)]


class CampaignMailer:
    def __init__(self, configuration_set: str = "") -> None:
        self._configuration_set = configuration_set

    def send(self, message: OutgoingEmail, tags: Mapping[str, str]) -> str:
        """Sends one message; returns SES's message id."""
        request: dict[str, object] = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Raw": {"Data": compose(message)}},
            "EmailTags": _tags(tags),
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        with _sorted_errors():
            return _send_once(lambda: aws.sesv2_send_once().send_email(**request))["MessageId"]  # type: ignore[arg-type]


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
