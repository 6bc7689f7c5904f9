"""Signs a checkpoint over the consent-log heads changed since the last one; run by an EventBridge schedule."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.observability import logger
from samtykke.services.context import services
from samtykke.services.evidence_log.checkpoints import CheckpointRaced, write_checkpoint


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        result = write_checkpoint(services())
    except CheckpointRaced:  # another writer moved the pointer; the next run covers these heads again
        logger.warning("Checkpoint raced; left to the next run")
        return {"tree_size": 0, "raced": True}
    summary = {"checkpoint_id": result.checkpoint_id, "tree_size": result.tree_size} if result else {"tree_size": 0}
    logger.info("Checkpoint done", extra=summary)
    return summary


samtykke.coldstart.imported()
