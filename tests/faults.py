"""In-process fault injection on one boto3 client: a reply lost after the request committed.

moto's in-process mock answers from botocore's `before-send` event. The handler here runs after it, so the request
has been applied when it raises `ConnectionClosedError`: the caller never hears the answer, and botocore's retry
sends the same request again, as it would after a reply lost on the way back from AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ConnectionClosedError


@dataclass
class LostReplies:
    operation: str  # e.g. "TransactWriteItems"
    times: int  # how many replies to lose, from the first matching call on
    when: Callable[[bytes], bool]  # which calls, by their request body
    lost: int = 0
    calls: int = 0

    def __call__(self, request: Any, event_name: str, **_: Any) -> None:
        if not event_name.endswith(f".{self.operation}"):
            return
        self.calls += 1
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        if self.lost < self.times and self.when(body):
            self.lost += 1
            raise ConnectionClosedError(endpoint_url=request.url)


@contextmanager
def lost_replies(
    client: Any, operation: str, *, times: int = 1, when: Callable[[bytes], bool] = lambda _: True
) -> Iterator[LostReplies]:
    """Loses the replies of `client`'s first `times` calls of `operation` (those `when` picks), after moto applied
    each."""
    fault = LostReplies(operation, times, when)
    client.meta.events.register_last("before-send", fault)
    try:
        yield fault
    finally:
        client.meta.events.unregister("before-send", fault)
