"""Pages a campaign's audience onto the campaign queue: one message on the dispatch queue per dispatch step."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.domain.errors import SamtykkeError
from samtykke.models.campaign import DispatchStep
from samtykke.observability import logger
from samtykke.services.campaign_dispatch import dispatch
from samtykke.services.context import services


class DispatchRecord(SqsRecordModel):
    body: Json[DispatchStep]


processor = BatchProcessor(event_type=EventType.SQS, model=DispatchRecord, raise_on_entire_batch_failure=False)


def record_handler(record: DispatchRecord, lambda_context: LambdaContext) -> None:
    step: DispatchStep = record.body
    try:
        owner = f"{record.messageId}/{record.attributes.ApproximateReceiveCount}/{lambda_context.aws_request_id}"
        result = dispatch(services(), step, time_left_ms=lambda_context.get_remaining_time_in_millis, owner=owner)
    except SamtykkeError as exc:
        if exc.status >= 500:
            raise  # transient: the step returns to the queue; duplicates of a page are harmless
        logger.warning("Dispatch step dropped", extra={"code": exc.code, "campaign_id": step.campaign_id})
        return
    logger.info(
        "Dispatch step",
        extra={
            "campaign_id": step.campaign_id,
            "outcome": result.outcome,
            "pages": result.pages,
            "queued": result.queued,
        },
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


samtykke.coldstart.imported()
