"""The tenant admin API. API Gateway's authorizer has authenticated the caller before this runs."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.app import build_resolver
from samtykke.api.guards import guard_request
from samtykke.api.sharding import served_routers
from samtykke.observability import logger, tracer

# The routers come from admin_api's FunctionSpec (resources.py): deployed, each router runs in a function of its own.
app = build_resolver(*served_routers("admin_api"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer().capture_lambda_handler
@guard_request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


samtykke.coldstart.imported()
