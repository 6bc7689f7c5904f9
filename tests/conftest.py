"""Fixtures shared by every suite: canonical events from `events/`, and one moto-backed AWS."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

EVENTS = Path(__file__).resolve().parent.parent / "events"
EventFactory = Callable[..., dict[str, Any]]


def load_event(relative_path: str) -> dict[str, Any]:
    return json.loads((EVENTS / relative_path).read_text())


def build_event(
    name: str,
    *,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
    body: str | None = None,
    json_body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str | None] | None = None,
    authorizer: dict[str, str] | None = None,
    base64_encoded: bool | None = None,
) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"apigw/{name}.json"))
    if path is not None:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
    if json_body is not None:
        body = json.dumps(json_body)
        event["headers"]["content-type"] = "application/json"
    if body is not None:
        event["body"] = body
    if query is not None:
        event["rawQueryString"] = urlencode(query)
        event["queryStringParameters"] = query
    for name_, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(name_, None)
        else:
            event["headers"][name_] = value
    if authorizer is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer}
    if base64_encoded is not None:
        event["isBase64Encoded"] = base64_encoded
    return event


@pytest.fixture
def api_event() -> EventFactory:
    """A canonical HTTP API event from `events/apigw/`, with the parts a test changes replaced."""
    return build_event


@pytest.fixture
def aws() -> Iterator[Any]:
    """A fresh in-process moto AWS, provisioned from the same specs as the CDK app and `samtykke local`."""
    from samtykke.local.inprocess import in_process_aws

    with in_process_aws() as resources:
        yield resources
