"""Serves the OpenAPI document of every HTTP endpoint at `GET /openapi.json`.

The build writes the document beside this file (infra/assets.py), from the same routers and models that serve the
endpoints, so a cold start reads a file instead of building every router. Where no build ran (the local stack, the
tests), the document is generated on the first request.
"""

import samtykke.coldstart

from functools import cache
from pathlib import Path
from typing import Any

BUILT_DOCUMENT = Path(__file__).with_name("openapi.json")


@cache
def document() -> str:
    if BUILT_DOCUMENT.is_file():
        return BUILT_DOCUMENT.read_text(encoding="utf-8")
    import json

    from samtykke.api.openapi import openapi_document

    return json.dumps(openapi_document(), separators=(",", ":"), sort_keys=True)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway routes only `GET /openapi.json` here."""
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "cache-control": "public, max-age=300"},
        "body": document(),
    }


samtykke.coldstart.imported()
