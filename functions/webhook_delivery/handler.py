"""Webhook delivery: fans change events out to subscriptions and makes each signed attempt (the webhook queue)."""

import samtykke.coldstart

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.domain.errors import SamtykkeError
from samtykke.observability import logger
from samtykke.services.context import services
from samtykke.services.webhooks.delivery import handle

# Records that failed go back through `batchItemFailures`, all of them too: a transient failure is no crash.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    try:
        handle(services(), json.loads(record.body))
    except SamtykkeError as exc:
        if exc.status >= 500:
            raise  # transient: the message returns to the queue
        logger.warning("Webhook message dropped", extra={"code": exc.code})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


samtykke.coldstart.imported()
