"""Expires unconfirmed double opt-ins past their tenant's TTL; run hourly by an EventBridge schedule."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.observability import logger
from samtykke.services.context import services
from samtykke.services.retention import sweep


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sweep(services(), remaining_ms=context.get_remaining_time_in_millis)
    summary = {
        "expired": result.expired,
        "shredded_contacts": result.shredded_contacts,
        "skipped": result.skipped,
        "stopped_early": result.stopped_early,
    }
    logger.info("Retention sweep done", extra=summary)
    return summary


samtykke.coldstart.imported()
