"""Staff login, refresh, logout and password reset (`/v1/auth/*`): public routes, no authorizer."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.app import build_resolver
from samtykke.api.guards import guard_request
from samtykke.api.routes import auth_public
from samtykke.observability import logger

app = build_resolver(auth_public.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@guard_request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


samtykke.coldstart.imported()
