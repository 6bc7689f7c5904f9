"""SES bounce and complaint notifications from the SES events topic: suppress the addresses (services/ses_events.py)."""

import samtykke.coldstart

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.observability import logger
from samtykke.services.context import services
from samtykke.services.ses_events import handle_notification


@logger.inject_lambda_context
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    svc = services()
    results = []
    for record in event.records:
        try:
            message = json.loads(record.sns.message)
        except ValueError:
            logger.warning("SES notification is not JSON: ignored", extra={"message_id": record.sns.message_id})
            continue
        if not isinstance(message, dict):
            continue
        outcome = handle_notification(svc, message)
        results.append(
            {"suppressed": outcome.suppressed, "soft_bounces": outcome.soft_bounces, "ignored": outcome.ignored}
        )
    return {"results": results}


samtykke.coldstart.imported()
