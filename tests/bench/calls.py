"""Counting AWS API calls per service and operation, through botocore's event hooks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


class CallCounter:
    """Counts every API call made by the clients it watches: `counts[("dynamodb", "Query")]`."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def _on_call(self, model: Any, **_: Any) -> None:
        self.counts[(model.service_model.service_name, model.name)] += 1

    def watch(self, clients: Iterable[Any]) -> None:
        for client in clients:
            client.meta.events.register("before-call.*.*", self._on_call, unique_id=f"bench-{id(self)}")

    def unwatch(self, clients: Iterable[Any]) -> None:
        for client in clients:
            client.meta.events.unregister("before-call.*.*", unique_id=f"bench-{id(self)}")

    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return {f"{service}:{operation}": n for (service, operation), n in sorted(self.counts.items())}


def our_clients() -> list[Any]:
    """The clients samtykke's adapters use in this process (built on first use, like a Lambda container's)."""
    from samtykke.adapters import aws

    return [
        aws.dynamodb(),
        aws.kms(),
        aws.sesv2(),
        aws.s3(),
        aws.sqs(),
        aws.sns(),
        aws.sesv2_send_once(),
        aws.sns_send_once(),
    ]


@contextmanager
def counting(clients: Iterable[Any]) -> Iterator[CallCounter]:
    watched = list(clients)
    counter = CallCounter()
    counter.watch(watched)
    try:
        yield counter
    finally:
        counter.unwatch(watched)
