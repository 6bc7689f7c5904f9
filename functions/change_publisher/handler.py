"""The table stream's consumer: committed consent changes become CloudEvents on the bus and change-feed entries."""

import samtykke.coldstart

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from samtykke.adapters.events.event_bus import EventBus
from samtykke.observability import logger
from samtykke.resources import EVENT_SOURCE
from samtykke.services.context import services
from samtykke.services.events.publisher import publish


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    svc = services()
    return publish(svc, EventBus(svc.settings.event_bus_name, EVENT_SOURCE), event.get("Records", []))


samtykke.coldstart.imported()
