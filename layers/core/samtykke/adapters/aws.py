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
# For sends that no idempotency key protects (SES SendEmail, SNS Publish): botocore would retry a send whose reply
# was lost, and the recipient would get it twice. The caller retries only what provably was not sent.
_SEND_ONCE = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)

_making = threading.Lock()
_clients: dict[tuple[str, bool], Any] = {}


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _client(service: str, *, once: bool = False) -> Any:
    client = _clients.get((service, once))
    if client is None:
        with _making:
            client = _clients.get((service, once))
            if client is None:
                config = _SEND_ONCE if once else _CONFIG
                client = _clients[service, once] = _session().client(service, config=config)  # type: ignore[call-overload]
    return client


def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")


def kms() -> KMSClient:
    return _client("kms")


def sesv2() -> SESV2Client:
    return _client("sesv2")


def sesv2_send_once() -> SESV2Client:
    """SES without botocore's retries: for campaign sends (adapters/campaign_senders.py)."""
    return _client("sesv2", once=True)


def sns_send_once() -> SNSClient:
    """SNS without botocore's retries: for campaign SMS."""
    return _client("sns", once=True)


def s3() -> S3Client:
    return _client("s3")


def sqs() -> SQSClient:
    return _client("sqs")


def sns() -> SNSClient:
    return _client("sns")


def events() -> Any:
    return _client("events")


def reset_clients() -> None:
    """Forget the Session and every client (tests that switch AWS endpoints or credentials)."""
    with _making:
        _clients.clear()
        _session.cache_clear()
