"""Parameters and OpenAPI markers shared by several routers, declared once so they validate and document alike."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

TenantId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="The tenant's id")]

# An operation whose body needs a live value (a current TOTP code, a staff session, an existing contact) says so in
# the OpenAPI document with this extension; its example shows the shape only.
LIVE_INPUT = "x-samtykke-live-input"


def live_input(guard: dict[str, Any], needs: str) -> dict[str, Any]:
    """`guarded(...)`'s route arguments, marked as needing `needs` live (see `LIVE_INPUT`)."""
    return {**guard, "openapi_extensions": {**guard["openapi_extensions"], LIVE_INPUT: needs}}
