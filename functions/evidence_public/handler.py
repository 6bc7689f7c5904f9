"""Public evidence: the checkpoint public key, the latest signed checkpoint, and consent receipts."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.app import build_resolver
from samtykke.api.routes import public_evidence
from samtykke.observability import logger

app = build_resolver(public_evidence.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


samtykke.coldstart.imported()
