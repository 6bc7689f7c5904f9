"""HTTP API Lambda authorizer (simple responses): a bearer API key or staff session token becomes the principal.

API keys (`stk_…`) are looked up by hash; session tokens (`sts_…`) are verified with the tenant's session key
and checked against the user's current session epoch and authorisation version (`services/sessions.py`).
"""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.auth import authorizer_context
from samtykke.domain.errors import Unauthorized
from samtykke.observability import logger
from samtykke.services.api_keys import authenticate
from samtykke.services.context import services


@logger.inject_lambda_context
@event_source(data_class=APIGatewayAuthorizerEventV2)
def lambda_handler(event: APIGatewayAuthorizerEventV2, context: LambdaContext) -> dict[str, Any]:
    try:
        principal = authenticate(services(), event.headers.get("authorization"))
    except Unauthorized:
        return APIGatewayAuthorizerResponseV2(authorize=False).asdict()
    return APIGatewayAuthorizerResponseV2(authorize=True, context=authorizer_context(principal)).asdict()


samtykke.coldstart.imported()
