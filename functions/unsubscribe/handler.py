"""Unsubscribe links, RFC 8058 one-click, the preference centre, and fresh preference links."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.app import build_resolver
from samtykke.api.cors import tenant_cors
from samtykke.api.guards import guard_request
from samtykke.api.routes import unsubscribe
from samtykke.observability import logger

app = build_resolver(unsubscribe.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tenant_cors
@guard_request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


samtykke.coldstart.imported()
