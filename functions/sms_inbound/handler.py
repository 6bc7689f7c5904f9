"""Inbound SMS from AWS End User Messaging two-way SMS, delivered by the inbound SNS topic."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.observability import logger
from samtykke.services.sms_inbound import receive_end_user_messaging, sms_inbox


@logger.inject_lambda_context
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    inbox = sms_inbox()
    results = [receive_end_user_messaging(inbox, r.sns.message, r.sns.timestamp) for r in event.records]
    return {"results": results}


samtykke.coldstart.imported()
