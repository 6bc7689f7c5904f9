"""Sending email through SES v2, as raw MIME so that every header (List-Unsubscribe...) is ours."""

from __future__ import annotations

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.domain.mail import OutgoingEmail, compose


class SesMailer:
    def __init__(self, configuration_set: str = "") -> None:
        self._configuration_set = configuration_set

    def send(self, message: OutgoingEmail) -> str:
        """Sends one message and returns SES's message id."""
        request: dict[str, object] = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Raw": {"Data": compose(message)}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        with translate_aws_errors():
            return aws.sesv2().send_email(**request)["MessageId"]  # type: ignore[arg-type]
