"""Checks each evidence upload (the bucket notifies the evidence upload queue, which invokes this), and deletes the
governance-locked objects that erasure, expiry and imports queue for it: the one role with the governance bypass."""

import samtykke.coldstart

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.adapters.evidence_queue import DELETION
from samtykke.domain.errors import SamtykkeError
from samtykke.observability import logger
from samtykke.services.context import services
from samtykke.services.evidence import check_notification
from samtykke.services.evidence_deletion import delete_requested

# Records that failed go back through `batchItemFailures`, all of them too: a transient failure is no crash.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    body = json.loads(record.body)
    try:
        if DELETION in body:
            delete_requested(services(), body[DELETION])
        else:
            check_notification(services(), body)
    except SamtykkeError as exc:
        if exc.status >= 500:
            raise  # transient: the message returns to the queue, and to its DLQ after five tries
        logger.warning("Evidence check skipped", extra={"code": exc.code})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


samtykke.coldstart.imported()
