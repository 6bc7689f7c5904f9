"""Reconciles every active campaign (services/campaign_reconciler.py), every 5 minutes on an EventBridge schedule."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.observability import logger
from samtykke.services.campaign_reconciler import reconcile_all
from samtykke.services.context import services


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reports = reconcile_all(services(), time_left_ms=context.get_remaining_time_in_millis)
    summary = {
        "campaigns": len(reports),
        "stale_claims": sum(r.stale_claims for r in reports),
        "requeued_chunks": sum(r.requeued_chunks for r in reports),
        "dispatches_resumed": sum(r.dispatch_resumed for r in reports),
        "finished": sum(r.status == "done" for r in reports),
    }
    logger.info("Campaign reconciliation done", extra=summary)
    return summary


samtykke.coldstart.imported()
