"""Sends campaign chunks from the campaign queue, each recipient once in effect (services/campaign_sender.py)."""

import samtykke.coldstart

import random
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.adapters import campaign_queues
from samtykke.adapters.campaign_senders import BulkMailer, SmsSender
from samtykke.domain.errors import RetryableError, SamtykkeError
from samtykke.domain.work import WorkItem
from samtykke.models.campaign import RecipientChunk
from samtykke.observability import logger
from samtykke.services.campaign_sender import ChunkSender, PacedOut, SenderState
from samtykke.services.context import Services, services


class ChunkRecord(SqsRecordModel):
    body: Json[RecipientChunk]


MAX_DEFERRALS = 20  # then a chunk that keeps meeting transient faults takes the ordinary way to the DLQ
DEFER_SECONDS = 5  # doubling with each deferral, up to about 5 minutes

processor = BatchProcessor(event_type=EventType.SQS, model=ChunkRecord, raise_on_entire_batch_failure=False)
_state: dict[int, SenderState] = {}  # campaign plans and the throttling pause, per container (per Services)


def _sender(svc: Services) -> ChunkSender:
    state = _state.get(id(svc))
    if state is None:
        _state.clear()
        state = _state[id(svc)] = SenderState()
    return ChunkSender(svc, BulkMailer(svc.settings.ses_configuration_set), SmsSender(), state)


def record_handler(record: ChunkRecord, lambda_context: LambdaContext) -> None:
    chunk: RecipientChunk = record.body
    try:
        work = WorkItem(
            scope=chunk.campaign_id,
            unit=chunk.chunk,
            attempt=int(record.attributes.ApproximateReceiveCount),
            request_id=lambda_context.aws_request_id,
        )
        result = _sender(services()).send(chunk, work, time_left_ms=lambda_context.get_remaining_time_in_millis)
    except PacedOut as exc:
        # Waiting for the SES account's quota is progress at its pace, not a fault: no deferral is counted.
        campaign_queues.defer_chunk(chunk.model_dump(), exc.retry_after)
        logger.info("Campaign chunk paced", extra={"campaign_id": chunk.campaign_id, "delay": exc.retry_after})
        return
    except RetryableError:
        if chunk.deferrals >= MAX_DEFERRALS:
            raise  # the chunk comes back after the visibility timeout, and in the end goes to the DLQ
        # Throttled or transient: what went out is recorded and the rest released, so the chunk goes back on the
        # queue as a fresh, delayed message instead of spending the receives that lead to the DLQ.
        delay = DEFER_SECONDS * 2 ** min(chunk.deferrals, 6) + random.randint(0, DEFER_SECONDS)  # noqa: S311
        campaign_queues.defer_chunk(chunk.model_copy(update={"deferrals": chunk.deferrals + 1}).model_dump(), delay)
        logger.info("Campaign chunk deferred", extra={"campaign_id": chunk.campaign_id, "chunk": chunk.chunk})
        return
    except SamtykkeError as exc:
        if exc.status >= 500:
            raise  # transient: the chunk comes back after the visibility timeout
        logger.warning("Campaign chunk dropped", extra={"code": exc.code, "campaign_id": chunk.campaign_id})
        return
    logger.info(
        "Campaign chunk",
        extra={
            "campaign_id": chunk.campaign_id,
            "chunk": chunk.chunk,
            "sent": result.sent,
            "failed": result.failed,
            "skipped": sum(result.skipped.values()),
            "duplicates": result.duplicates,
            "in_flight": result.in_flight,
            "taken_over": result.taken_over,
        },
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


samtykke.coldstart.imported()
