"""The call counter itself: it must see every call a watched client makes, and nothing else."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.bench.calls import counting

pytestmark = pytest.mark.integration


def test_the_counter_sees_each_call_by_service_and_operation(aws: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    kms = boto3.client("kms")
    unwatched = boto3.client("dynamodb")

    with counting([dynamodb, kms]) as counter:
        dynamodb.describe_table(TableName=aws.table_name)
        dynamodb.describe_table(TableName=aws.table_name)
        kms.list_keys()
        unwatched.describe_table(TableName=aws.table_name)

    assert counter.as_dict() == {"dynamodb:DescribeTable": 2, "kms:ListKeys": 1}
    assert counter.total() == 3
    dynamodb.describe_table(TableName=aws.table_name)
    assert counter.total() == 3  # no longer watching
