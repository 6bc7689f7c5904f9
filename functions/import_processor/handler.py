"""Processes a lawful import chunk by chunk: one message on the import queue per chunk."""

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
from samtykke.services.imports import process

# Records that failed go back through `batchItemFailures`, all of them too: a transient failure is no crash.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_context: dict[str, LambdaContext] = {}


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    context = _context["current"]
    try:
        process(
            services(),
            str(message["tenant_id"]),
            str(message["import_id"]),
            remaining_ms=context.get_remaining_time_in_millis,
        )
    except SamtykkeError as exc:
        if exc.status >= 500:
            raise  # transient: the chunk returns to the queue and resumes from the saved cursor
        logger.warning("Import chunk dropped", extra={"code": exc.code, "import_id": message.get("import_id")})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _context["current"] = context
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


samtykke.coldstart.imported()
