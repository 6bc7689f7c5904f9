"""Runs the real Lambda handlers the way the Lambda runtime calls them.

`invoke` calls a handler in this process (what integration tests on in-process moto want). `LambdaRuntime` gives
each function worker processes of its own, each running one invocation at a time, like Lambda execution
environments: the handlers keep module state (powertools resolvers and their `current_event`, the Logger's keys,
cached settings and clients) that must not be shared between functions or between concurrent invocations.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from samtykke.resources import DEFAULT_REGION, function_spec

LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
WORKERS_PER_FUNCTION = 4  # concurrent invocations of one function; workers start on demand, like cold starts
# Imported once by the fork server, so a worker's cold start only pays for samtykke's own modules.
PRELOAD = ["boto3", "botocore.client", "pydantic", "aws_lambda_powertools", "aws_lambda_powertools.event_handler"]

Handler = Callable[[Any, Any], Any]
Invoker = Callable[[str, dict[str, Any]], Any]  # (function name, event) -> the handler's result


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


def lambda_context(function: str) -> LambdaContext:
    spec = function_spec(function)
    return LambdaContext(
        function_name=spec.name,
        memory_limit_in_mb=spec.memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{DEFAULT_REGION}:{LOCAL_ACCOUNT_ID}:function:{spec.name}",
        timeout_seconds=spec.timeout_seconds,
    )


@cache
def load_handler(function: str) -> Handler:
    """Import `functions/<function>/handler.py` on first use, as a cold start would, and keep it warm."""
    handler: Handler = importlib.import_module(f"functions.{function}.handler").lambda_handler
    return handler


def invoke(function: str, event: dict[str, Any]) -> Any:
    """Call a function's handler in this process with `event` and a fresh context; its exceptions propagate."""
    return load_handler(function)(event, lambda_context(function))


class LambdaTimeout(BaseException):
    """The invocation ran past its function's configured timeout. A BaseException, so that no handler's
    `except Exception` swallows it: on Lambda the runtime ends the invocation whatever the code does."""


def _on_deadline(signum: int, frame: Any) -> None:
    raise LambdaTimeout("Task timed out")


def invoke_with_timeout(function: str, event: dict[str, Any]) -> Any:
    """`invoke` in a worker process, cut off at the function's configured timeout, as Lambda cuts it off."""
    context = lambda_context(function)
    previous = signal.signal(signal.SIGALRM, _on_deadline)
    signal.setitimer(signal.ITIMER_REAL, context.timeout_seconds)
    try:
        return load_handler(function)(event, context)
    except LambdaTimeout as exc:  # the parent sees an ordinary failed invocation
        raise RuntimeError(f"{function}: Task timed out after {context.timeout_seconds} seconds") from exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class LambdaRuntime:
    """An `Invoker` that runs every function in worker processes of its own, with `environment` plus its own."""

    def __init__(self, environment: Mapping[str, str], *, workers_per_function: int = WORKERS_PER_FUNCTION) -> None:
        self._environment = dict(environment)
        self._workers = workers_per_function
        self._pools: dict[str, ProcessPoolExecutor] = {}
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("forkserver")  # forking this threaded process itself is unsafe
        self._context.set_forkserver_preload(PRELOAD)

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        pool = self._pool(function)
        try:
            return pool.submit(invoke_with_timeout, function, event).result()
        except BrokenProcessPool:  # a worker died (as a crashed execution environment): start afresh next time
            with self._lock:
                if self._pools.get(function) is pool:
                    del self._pools[function]
            raise

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:  # every pool told first, so that all their workers exit side by side
            pool.shutdown(wait=False, cancel_futures=True)
        for pool in pools:
            pool.shutdown()

    def _pool(self, function: str) -> ProcessPoolExecutor:
        with self._lock:
            if function not in self._pools:
                environment = {**self._environment, **function_spec(function).environment}
                self._pools[function] = ProcessPoolExecutor(
                    self._workers, mp_context=self._context, initializer=_start_worker, initargs=(environment,)
                )
            return self._pools[function]


def _start_worker(environment: dict[str, str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the stack shuts us down
    os.environ.update(environment)
