"""The operator API (`/v1/operator/...`): authenticated by an operator key, never by a tenant's credential."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.app import build_resolver
from samtykke.api.auth import authenticate_operator_event
from samtykke.api.guards import guard_request
from samtykke.api.routes import operator
from samtykke.observability import logger, tracer

app = build_resolver(operator.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer().capture_lambda_handler
@guard_request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = authenticate_operator_event(event)  # the key first: no body is read for a stranger
    return refused if refused is not None else app.resolve(event, context)


samtykke.coldstart.imported()
