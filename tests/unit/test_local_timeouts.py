"""The local stack ends an invocation at its function's configured timeout, as Lambda does."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from samtykke.local import lambdas
from samtykke.resources import FUNCTIONS

pytestmark = pytest.mark.unit


def test_an_invocation_past_its_timeout_is_cut_off_even_if_the_handler_catches_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a handler that would run for 5 s and swallows every Exception, in a function configured for 1 s
    finished: list[bool] = []

    def stubborn(event: Any, context: Any) -> None:
        with contextlib.suppress(Exception):  # the point: it cannot catch the runtime's timeout
            time.sleep(5)
        finished.append(True)

    real_context = lambdas.lambda_context
    monkeypatch.setattr(lambdas, "lambda_context", lambda name: _with_timeout(real_context(name), 1))
    monkeypatch.setattr(lambdas, "load_handler", lambda name: stubborn)

    # When it is invoked as the local runtime invokes it
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="Task timed out after 1 seconds"):
        lambdas.invoke_with_timeout("campaign_sender", {})

    # Then it ended at its timeout, and the handler never finished
    assert time.monotonic() - started < 2
    assert finished == []


def test_every_local_invocation_gets_the_timeout_its_function_declares() -> None:
    for spec in FUNCTIONS:
        assert lambdas.lambda_context(spec.name).timeout_seconds == spec.timeout_seconds


def _with_timeout(context: lambdas.LambdaContext, seconds: int) -> lambdas.LambdaContext:
    context.timeout_seconds = seconds
    return context
