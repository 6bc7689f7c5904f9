"""Writes yesterday's audit entries of every tenant to the Object-Locked bucket as JSONL; run daily by EventBridge."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.observability import logger
from samtykke.services.audit.export import export_yesterday
from samtykke.services.context import services


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    files = export_yesterday(services())
    summary = {"files": len(files), "entries": sum(f.entries for f in files)}
    logger.info("Audit export done", extra=summary)
    return summary


samtykke.coldstart.imported()
