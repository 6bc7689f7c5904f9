"""Serves the OpenAPI document of every HTTP endpoint at `GET /openapi.json`."""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.api.openapi import openapi_document

app = APIGatewayHttpResolver()


@app.get("/openapi.json", include_in_schema=False)
def get_openapi() -> dict[str, Any]:
    return openapi_document()


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
