"""The change-event infrastructure: the table stream, its consumer, the bus, its archive and the webhook rule."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match, Template

from samtykke.local.inprocess import in_process_aws
from samtykke.resources import EVENT_BUS, TABLE_STREAM

pytestmark = pytest.mark.infra


def _one(template: Template, kind: str) -> dict[str, Any]:
    (resource,) = template.find_resources(kind).values()
    properties: dict[str, Any] = resource["Properties"]
    return properties


def test_the_table_streams_new_and_old_images_as_locally(real: Template) -> None:
    deployed = _one(real, "AWS::DynamoDB::Table")["StreamSpecification"]
    with in_process_aws() as resources:
        local = boto3.client("dynamodb").describe_table(TableName=resources.table_name)["Table"]
    assert deployed == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert local["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_stream_consumer_retries_bisects_and_dead_letters(real: Template) -> None:
    (mapping,) = [
        m["Properties"]
        for m in real.find_resources("AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" in m["Properties"]
    ]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == TABLE_STREAM.max_retries
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "OnFailure" in mapping["DestinationConfig"]
    assert "ChangePublisher" in str(mapping["FunctionName"])


def test_the_bus_archives_every_samtykke_event_and_routes_them_to_webhook_delivery(real: Template) -> None:
    real.resource_count_is("AWS::Events::EventBus", 1)
    archive = _one(real, "AWS::Events::Archive")
    assert archive["EventPattern"] == {"source": [EVENT_BUS.source]}
    assert archive["RetentionDays"] == EVENT_BUS.archive_retention_days
    real.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"source": [EVENT_BUS.source]},
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [Match.string_like_regexp(r"^MessagingWebhookQueue"), "Arn"]},
                        "DeadLetterConfig": Match.any_value(),
                        "RetryPolicy": Match.any_value(),
                    }
                )
            ],
        },
    )
