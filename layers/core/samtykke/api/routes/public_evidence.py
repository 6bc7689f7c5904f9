"""Public evidence: the key that verifies checkpoints, the latest signed checkpoint, and a contact's receipts.

A verifier fetches the public key once and checks exports and receipts offline (`samtykke verify`).
"""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from samtykke.api.responses import json_error_doc
from samtykke.domain.errors import NotFound
from samtykke.services.context import services
from samtykke.services.evidence_log.checkpoints import latest_checkpoint, public_key_pem
from samtykke.services.evidence_log.receipts import receipts_by_link

router = Router()

Token = Annotated[str, Path(max_length=1024, description="The signed token from the receipt link")]
PEM_TYPE = "application/x-pem-file"
CACHE_A_DAY = {"Cache-Control": "public, max-age=86400"}


class NoCheckpointYet(NotFound):
    code = "no_checkpoint"


@router.get(
    "/v1/public/evidence/public-key",
    summary="The public key that verifies every checkpoint (PEM, ECC NIST P-256)",
    description="SubjectPublicKeyInfo in PEM. Checkpoint signatures are ECDSA with SHA-256 (docs/evidence.md).",
    tags=["public"],
    responses={200: {"description": "The PEM public key", "content": {PEM_TYPE: {}}}},
)
def public_key() -> Response[str]:
    return Response(200, PEM_TYPE, public_key_pem(services()).decode(), headers=CACHE_A_DAY)


@router.get(
    "/v1/public/evidence/checkpoints/latest",
    summary="The latest signed checkpoint: its statement and signature",
    tags=["public"],
    responses={
        200: {"description": "`{statement, signature}`", "content": {"application/json": {}}},
        404: json_error_doc("No checkpoint has been signed yet"),
    },
)
def latest() -> Response[str]:
    document = latest_checkpoint(services())
    if document is None:
        raise NoCheckpointYet("No checkpoint has been signed yet")
    body = {"statement": document["statement"], "signature": document["signature"]}
    return Response(200, content_types.APPLICATION_JSON, json.dumps(body))


@router.get(
    "/v1/public/receipts/<token>",
    summary="A contact's consent receipts (the link in the confirmation email and the preference centre)",
    tags=["public"],
    responses={
        200: {"description": "`{contact_id, receipts}`", "content": {"application/json": {}}},
        400: json_error_doc("A forged, altered or expired link"),
        404: json_error_doc("The contact no longer exists"),
    },
)
def receipts(token: Token) -> Response[str]:
    document = receipts_by_link(services(), token)
    return Response(
        200,
        content_types.APPLICATION_JSON,
        json.dumps(document, ensure_ascii=False),
        headers={
            "Content-Disposition": f'attachment; filename="consent-receipts-{document["contact_id"]}.json"',
            "Referrer-Policy": "no-referrer",
        },
    )
