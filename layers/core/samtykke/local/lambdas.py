"""Runs the real Lambda handlers in this process, the way the Lambda runtime calls them."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from samtykke.resources import DEFAULT_REGION, function_spec

LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_context(function: str, region: str = DEFAULT_REGION) -> LambdaContext:
    spec = function_spec(function)
    return LambdaContext(
        function_name=spec.name,
        memory_limit_in_mb=spec.memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{spec.name}",
        timeout_seconds=spec.timeout_seconds,
    )


@cache
def load_handler(function: str) -> Handler:
    """Import `functions/<function>/handler.py` on first use, as a cold start would, and keep it warm."""
    handler: Handler = importlib.import_module(f"functions.{function}.handler").lambda_handler
    return handler


def invoke(function: str, event: dict[str, Any]) -> Any:
    """Call a function's handler with `event` and a fresh context; its exceptions propagate."""
    return load_handler(function)(event, lambda_context(function))
