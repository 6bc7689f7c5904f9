"""boto3 clients, built on first use and kept for the life of the container.

The endpoint comes from boto3's own `AWS_ENDPOINT_URL`, which is how the local stack points every
client at moto.
"""

from __future__ import annotations

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


@cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


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


def events() -> Any:
    return _client("events")


def reset_clients() -> None:
    """Forget every client (tests that switch AWS endpoints or credentials)."""
    _client.cache_clear()
