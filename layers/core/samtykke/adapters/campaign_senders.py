"""Sending one campaign message: email as raw MIME through SES v2 (our own List-Unsubscribe headers, plus message
tags that bring bounces and complaints back), SMS through SNS Publish to the phone number.

Errors are sorted three ways, so the sender can tell what to do with the recipient:
- throttling and service faults: `RetryableError` (the queue message comes back later; nothing is recorded as sent);
- a recipient SES or SNS refuses (a malformed address, a rejected message): `RecipientRejected`, recorded as failed;
- anything else (access denied, a missing configuration set, sending paused): `RetryableError` as well, so a
  misconfiguration ends in the DLQ, with its alarm, instead of marking a whole audience as failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from botocore.exceptions import ClientError

from samtykke.adapters import aws
from samtykke.adapters.errors import error_code, translate_aws_errors
from samtykke.domain.errors import RetryableError, SamtykkeError
from samtykke.domain.mail import OutgoingEmail, compose

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


class RecipientRejected(SamtykkeError):
    """The provider refused this one recipient or message; retrying would not help."""

    code = "recipient_rejected"
    status = 422


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
            return aws.sesv2().send_email(**request)["MessageId"]  # type: ignore[arg-type]


class SmsSender:
    def send(self, phone: str, text: str, *, transactional: bool) -> str:
        """Publishes one SMS to an E.164 number; returns SNS's message id."""
        with _sorted_errors():
            result = aws.sns().publish(
                PhoneNumber=phone,
                Message=text,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {
                        "DataType": "String",
                        "StringValue": "Transactional" if transactional else "Promotional",
                    }
                },
            )
        return result["MessageId"]
