"""boto3 clients, built on first use and kept for the life of the container, all from one Session.

A Session loads botocore's endpoint, partition and service data; a client made in a Session of its own loads them
again, which was two thirds of a first request's cost. So the container has one Session, made with the first client,
and each client is made once, when first used. Clients are thread-safe, Sessions are not: a lock guards the making.

The endpoint comes from boto3's own `AWS_ENDPOINT_URL`, which is how the local stack points every
client at moto.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


_making = threading.Lock()
_clients: dict[str, Any] = {}


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _client(service: str) -> Any:
    client = _clients.get(service)
    if client is None:
        with _making:
            client = _clients.get(service)
            if client is None:
                client = _clients[service] = _session().client(service, config=_CONFIG)  # type: ignore[call-overload]
    return client


def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")


def kms() -> KMSClient:
    return _client("kms")


def sesv2() -> SESV2Client:
    return _client("sesv2")


def s3() -> S3Client:
    return _client("s3")


def sqs() -> SQSClient:
    return _client("sqs")


def sns() -> SNSClient:
    return _client("sns")


def reset_clients() -> None:
    """Forget the Session and every client (tests that switch AWS endpoints or credentials)."""
    with _making:
        _clients.clear()
        _session.cache_clear()
