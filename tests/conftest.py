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


@pytest.fixture
def api_event() -> EventFactory:
    """A canonical HTTP API event from `events/apigw/`, with the parts a test changes replaced."""

    def build(
        name: str,
        *,
        path: str | None = None,
        path_parameters: dict[str, str] | None = None,
        body: str | None = None,
        json_body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str | None] | None = None,
        authorizer: dict[str, str] | None = None,
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
        return event

    return build


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh in-process moto AWS, provisioned from the same specs as the CDK app and `samtykke local`."""
    import boto3
    from moto import mock_aws

    from samtykke.adapters.aws import reset_clients
    from samtykke.local.provision import handler_environment, provision
    from samtykke.resources import DEFAULT_REGION
    from samtykke.services.context import services
    from samtykke.settings import get_settings

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_REGION": DEFAULT_REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "samtykke",
        "POWERTOOLS_SERVICE_NAME": "samtykke",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        resources = provision(boto3.session.Session(region_name=DEFAULT_REGION))
        for name, value in handler_environment(resources, public_base_url="https://consent.example.test").items():
            monkeypatch.setenv(name, value)
        for cache in (reset_clients, get_settings.cache_clear, services.cache_clear):
            cache()
        yield resources
        for cache in (reset_clients, get_settings.cache_clear, services.cache_clear):
            cache()
