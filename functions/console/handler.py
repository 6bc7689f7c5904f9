"""The staff console: server-rendered pages at /console/..., logged in with a staff account (cookie session)."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.guards import guard_request
from samtykke.console.routes import build_app
from samtykke.observability import logger

app = build_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@guard_request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


samtykke.coldstart.imported()
