"""Helpers for the data-subject rights tests: admin calls, draining the queues into their functions, scans."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3

from samtykke.domain.access import Role
from samtykke.resources import DEFAULT_REGION, ENV_EVIDENCE_UPLOAD_QUEUE_URL, ENV_IMPORT_QUEUE_URL
from tests.conftest import load_event
from tests.integration.conftest import TenantFixture

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def admin_call(
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
    tenant: TenantFixture,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    query: dict[str, str] | None = None,
    role: Role = Role.ADMIN,
) -> dict[str, Any]:
    event = api_event(
        "admin_request",
        path=path,
        path_parameters={"proxy": path.removeprefix("/v1/admin/")},
        json_body=json_body,
        query=query,
        authorizer=tenant.authorizer(role),
    )
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = f"{method} /v1/admin/{{proxy+}}"
    return invoke("admin_api", event)


def sqs() -> Any:
    return boto3.client("sqs", region_name=DEFAULT_REGION)


def s3() -> Any:
    return boto3.client("s3", region_name=DEFAULT_REGION)


def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=DEFAULT_REGION)


def drain(invoke: Invoke, function: str, *, max_rounds: int = 1000) -> int:
    """Delivers the function's queue to it as Lambda would (partial batch responses) until the queue is empty."""
    queue_url, template = {
        "evidence_check": (os.environ[ENV_EVIDENCE_UPLOAD_QUEUE_URL], "sqs/evidence_upload.json"),
        "import_processor": (os.environ[ENV_IMPORT_QUEUE_URL], "sqs/import_chunk.json"),
    }[function]
    delivered = 0
    client = sqs()
    for _ in range(max_rounds):
        messages = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        if not messages:
            return delivered
        event = load_event(template)
        record_template = event["Records"][0]
        event["Records"] = []
        for message in messages:
            record = copy.deepcopy(record_template)
            record.update(
                {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"]}
            )
            event["Records"].append(record)
        response = invoke(function, event)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        assert not failed, f"{function} failed on {failed}"
        for message in messages:
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        delivered += len(messages)
    raise AssertionError(f"{function}'s queue did not drain")


def purge(function: str) -> None:
    url = os.environ[ENV_EVIDENCE_UPLOAD_QUEUE_URL if function == "evidence_check" else ENV_IMPORT_QUEUE_URL]
    sqs().purge_queue(QueueUrl=url)


def scan_table(table_name: str) -> Iterator[dict[str, Any]]:
    paginator = dynamodb().get_paginator("scan")
    for page in paginator.paginate(TableName=table_name):
        yield from page["Items"]


def bucket_versions(bucket: str) -> Iterator[tuple[str, str, bytes]]:
    """(key, version id, body) of every object version in the bucket."""
    client = s3()
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            body = client.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            yield version["Key"], version["VersionId"], body


def raw_dump(item: Any) -> bytes:
    """Every byte of a DynamoDB item as stored (binary attributes decoded), for scanning."""
    parts: list[bytes] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                parts.append(str(key).encode())
                walk(inner)
        elif isinstance(value, list | tuple | set):
            for inner in value:
                walk(inner)
        elif isinstance(value, bytes | bytearray):
            parts.append(bytes(value))
        else:
            parts.append(str(value).encode())

    walk(item)
    return b"\x00".join(parts)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
