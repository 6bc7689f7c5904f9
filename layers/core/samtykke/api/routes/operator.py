"""The operator API: what only the deployment's operator decides, never a tenant (`services/operators.py`)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from samtykke.api.auth import current_operator, operator_only
from samtykke.api.params import TenantId, live_input
from samtykke.models.staff import PlanUpdate, SecuritySettings
from samtykke.services.context import services

router = Router()


@router.put(
    "/v1/operator/tenants/<tenant_id>/plan",
    summary="Set a tenant's plan (the operator only)",
    description="Takes only an operator key (`Bearer sko_…`, made with the deployment's AWS credentials by "
    "`samtykke operator key create`); a tenant's API key or staff session of any role gets 401 "
    "`operator_credential_required`. Audited in the tenant's log as `operator.plan_set`, the operator as actor.",
    tags=["operator"],
    **live_input(operator_only(), "an operator key"),
)
def set_plan(tenant_id: TenantId, update: Annotated[PlanUpdate, Body()]) -> SecuritySettings:
    from samtykke.services import audit, staff

    operator = current_operator(router)
    ip = audit.client_ip(router.current_event)
    settings = staff.set_plan(services(), operator.actor(tenant_id), update.plan, ip=ip, key_id=operator.key_id)
    return SecuritySettings.model_validate(settings)
