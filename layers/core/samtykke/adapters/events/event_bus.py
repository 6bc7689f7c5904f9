"""Putting change events on the stack's EventBridge bus, as CloudEvents in each entry's `detail`."""

from __future__ import annotations

import json
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.domain.errors import RetryableError

MAX_ENTRIES = 10  # PutEvents takes at most 10 entries per call
ATTEMPTS = 3


class EventBus:
    def __init__(self, bus_name: str, source: str) -> None:
        self.bus_name = bus_name
        self.source = source

    def put(self, cloudevents: list[dict[str, Any]]) -> None:
        """Puts every event, retrying entries EventBridge refused; RetryableError if some still fail."""
        for start in range(0, len(cloudevents), MAX_ENTRIES):
            entries = [self._entry(event) for event in cloudevents[start : start + MAX_ENTRIES]]
            for _ in range(ATTEMPTS):
                with translate_aws_errors():
                    result = aws.events().put_events(Entries=entries)
                if not result.get("FailedEntryCount"):
                    break
                entries = [e for e, r in zip(entries, result["Entries"], strict=True) if r.get("ErrorCode")]
            else:
                raise RetryableError("EventBridge refused some events; retry", code="events_refused")

    def _entry(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "EventBusName": self.bus_name,
            "Source": self.source,
            "DetailType": event["type"],
            "Detail": json.dumps(event, separators=(",", ":")),
        }
