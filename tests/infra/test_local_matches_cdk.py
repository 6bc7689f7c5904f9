"""`samtykke local` and `cdk deploy` make the same resources: both from `samtykke.resources`, checked side by side."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template

from samtykke.local.inprocess import in_process_aws

pytestmark = pytest.mark.infra


def _template_table(template: Template) -> dict[str, Any]:
    (table,) = template.find_resources("AWS::DynamoDB::Table").values()
    properties: dict[str, Any] = table["Properties"]
    return properties


def _template_queues(template: Template) -> dict[str, dict[str, Any]]:
    """Spec queues by logical id (`MessagingCampaignQueue1A2B3C4D` → `CampaignQueue`), DLQs left out."""
    found = {}
    for logical_id, queue in template.find_resources("AWS::SQS::Queue").items():
        match = re.match(r"^Messaging(\w+?)[0-9A-F]{8}$", logical_id)
        if match and "RedrivePolicy" in queue["Properties"]:
            found[match.group(1)] = queue["Properties"]
    return found


def test_the_local_table_has_the_deployed_keys_indexes_and_ttl(real: Template) -> None:
    deployed = _template_table(real)
    with in_process_aws() as resources:
        client = boto3.client("dynamodb")
        local = client.describe_table(TableName=resources.table_name)["Table"]
        ttl = client.describe_time_to_live(TableName=resources.table_name)["TimeToLiveDescription"]

    assert local["KeySchema"] == deployed["KeySchema"]
    assert sorted(local["AttributeDefinitions"], key=str) == sorted(deployed["AttributeDefinitions"], key=str)
    assert ttl["AttributeName"] == deployed["TimeToLiveSpecification"]["AttributeName"]

    def indexes(definitions: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
        return {
            i["IndexName"]: (
                tuple((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]),
                i["Projection"]["ProjectionType"],
                tuple(sorted(i["Projection"].get("NonKeyAttributes", []))),
            )
            for i in definitions
        }

    assert indexes(local["GlobalSecondaryIndexes"]) == indexes(deployed["GlobalSecondaryIndexes"])


def test_the_local_queues_redrive_like_the_deployed_ones(real: Template) -> None:
    deployed = _template_queues(real)
    with in_process_aws() as resources:
        sqs = boto3.client("sqs")
        local = {
            queue.spec.logical_id: sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
            for queue in resources.queues
        }
        topics = {topic.spec.logical_id for topic in resources.topics}

    assert set(local) == set(deployed)
    for logical_id, attributes in local.items():
        redrive = deployed[logical_id]["RedrivePolicy"]
        assert int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]) == redrive["maxReceiveCount"]
        assert int(attributes["VisibilityTimeout"]) == deployed[logical_id]["VisibilityTimeout"]
    deployed_topics = {
        m.group(1)
        for logical_id in real.find_resources("AWS::SNS::Topic")
        if (m := re.match(r"^Messaging(\w+?)[0-9A-F]{8}$", logical_id)) and m.group(1) != "OpsAlarms"
    }
    assert topics == deployed_topics
