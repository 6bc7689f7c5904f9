"""The tenant admin API. API Gateway's authorizer has authenticated the caller before this runs."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.app import build_resolver
from samtykke.api.guards import guard_request
from samtykke.api.routes import (
    admin_campaigns,
    admin_catalog,
    admin_contacts,
    admin_evidence,
    admin_governance,
    admin_rights,
    admin_staff,
)
from samtykke.observability import logger, tracer

app = build_resolver(
    admin_catalog.router,
    admin_contacts.router,
    admin_staff.router,
    admin_rights.router,
    admin_campaigns.router,
    admin_evidence.router,
    admin_governance.router,
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer().capture_lambda_handler
@guard_request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
