"""Public consent capture from web forms, and double opt-in confirmation."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.app import build_resolver
from samtykke.api.cors import tenant_cors
from samtykke.api.form_errors import html_form_errors
from samtykke.api.guards import guard_request
from samtykke.api.routes import public_consents, public_embed
from samtykke.observability import logger

app = build_resolver(public_consents.router, public_embed.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tenant_cors
@html_form_errors
@guard_request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


samtykke.coldstart.imported()
