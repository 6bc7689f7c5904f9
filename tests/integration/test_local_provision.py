"""`provision` builds exactly what `samtykke.resources` declares, on in-process moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from samtykke import resources as specs
from samtykke.environment import ENV_WEBHOOK_RETRY
from samtykke.local import provision as provision_module
from samtykke.local.provision import LOCAL_WEBHOOK_RETRY, Resources, handler_environment, provision

pytestmark = pytest.mark.integration

# QUEUES and TOPICS are empty until later issues fill them, so these stand in to exercise the generic path.
EXTRA_QUEUE = specs.QueueSpec("ExampleQueue", "SAMTYKKE_EXAMPLE_QUEUE_URL", "consent_capture", 4, 45, 25)
EXTRA_TOPICS = (
    specs.TopicSpec("ExampleTopic", "SAMTYKKE_EXAMPLE_TOPIC_ARN", "consent_capture"),
    specs.TopicSpec("SilentTopic", "SAMTYKKE_SILENT_TOPIC_ARN", None),
)
QUEUES = (*specs.QUEUES, EXTRA_QUEUE)
TOPICS = (*specs.TOPICS, *EXTRA_TOPICS)


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(provision_module, "QUEUES", QUEUES)
    monkeypatch.setattr(provision_module, "TOPICS", TOPICS)
    with mock_aws():
        yield boto3.session.Session(region_name=specs.DEFAULT_REGION)


@pytest.fixture
def provisioned(session: boto3.session.Session) -> Resources:
    return provision(session)


def test_the_table_has_exactly_the_specs_keys_indexes_and_ttl(
    session: boto3.session.Session, provisioned: Resources
) -> None:
    dynamodb = session.client("dynamodb")

    table = dynamodb.describe_table(TableName=provisioned.table_name)["Table"]

    assert table["KeySchema"] == [
        {"AttributeName": specs.TABLE.partition_key.name, "KeyType": "HASH"},
        {"AttributeName": specs.TABLE.sort_key.name, "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {index.name for index in specs.TABLE.indexes}
    for spec in specs.TABLE.indexes:
        index = indexes[spec.name]
        assert index["KeySchema"] == [
            {"AttributeName": spec.partition_key.name, "KeyType": "HASH"},
            {"AttributeName": spec.sort_key.name, "KeyType": "RANGE"},
        ]
        expected = (
            {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(spec.projected)}
            if spec.projected
            else {"ProjectionType": "KEYS_ONLY"}
        )
        assert index["Projection"] == expected
    key_types = {key.name: key.type for key in (specs.TABLE.partition_key, specs.TABLE.sort_key)} | {
        key.name: key.type for index in specs.TABLE.indexes for key in (index.partition_key, index.sort_key)
    }
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == key_types
    ttl = dynamodb.describe_time_to_live(TableName=provisioned.table_name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": specs.TABLE.ttl_attribute}


def test_every_queue_has_its_spec_settings_and_a_dead_letter_queue(
    session: boto3.session.Session, provisioned: Resources
) -> None:
    sqs = session.client("sqs")

    assert [queue.spec for queue in provisioned.queues] == list(QUEUES)
    for queue in provisioned.queues:
        attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
        assert attributes["VisibilityTimeout"] == str(queue.spec.visibility_timeout_seconds)
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": queue.dlq_arn,
            "maxReceiveCount": queue.spec.max_receive_count,
        }
        dlq = sqs.get_queue_attributes(QueueUrl=queue.dlq_url, AttributeNames=["QueueArn"])["Attributes"]
        assert dlq["QueueArn"] == queue.dlq_arn


def test_every_topic_exists(session: boto3.session.Session, provisioned: Resources) -> None:
    topic_arns = {topic["TopicArn"] for topic in session.client("sns").list_topics()["Topics"]}

    assert [topic.spec for topic in provisioned.topics] == list(TOPICS)
    assert {topic.arn for topic in provisioned.topics} == topic_arns


def test_the_evidence_bucket_has_object_lock_and_versioning(
    session: boto3.session.Session, provisioned: Resources
) -> None:
    s3 = session.client("s3")

    lock = s3.get_object_lock_configuration(Bucket=provisioned.evidence_bucket)["ObjectLockConfiguration"]
    versioning = s3.get_bucket_versioning(Bucket=provisioned.evidence_bucket)

    assert lock["ObjectLockEnabled"] == "Enabled"
    assert versioning["Status"] == "Enabled"


def test_the_kms_alias_names_the_key(session: boto3.session.Session, provisioned: Resources) -> None:
    key = session.client("kms").describe_key(KeyId=provisioned.kms_alias)["KeyMetadata"]

    assert key["Arn"] == provisioned.kms_key_arn


def test_the_sender_can_send_with_the_configuration_set(session: boto3.session.Session, provisioned: Resources) -> None:
    sesv2 = session.client("sesv2")

    sent = sesv2.send_email(
        FromEmailAddress=provisioned.sender_email,
        Destination={"ToAddresses": ["anna@example.dk"]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
        ConfigurationSetName=provisioned.ses_configuration_set,
    )

    assert sent["MessageId"]
    assert sesv2.get_configuration_set(ConfigurationSetName=provisioned.ses_configuration_set)


def test_the_handler_environment_names_every_resource(provisioned: Resources) -> None:
    env = handler_environment(provisioned, public_base_url="http://127.0.0.1:3000")

    expected: dict[str, Any] = {
        specs.TABLE.env_var: provisioned.table_name,
        specs.ENV_KMS_KEY_ID: provisioned.kms_key_arn,
        specs.ENV_CHECKPOINT_KEY_ID: provisioned.checkpoint_key_arn,
        specs.ENV_EVIDENCE_BUCKET: provisioned.evidence_bucket,
        specs.ENV_PUBLIC_BASE_URL: "http://127.0.0.1:3000",
        specs.ENV_SENDER_EMAIL: provisioned.sender_email,
        specs.ENV_SES_CONFIGURATION_SET: provisioned.ses_configuration_set,
        specs.ENV_STAGE: "local",
    }
    expected |= {queue.spec.env_var: queue.url for queue in provisioned.queues}
    expected |= {topic.spec.env_var: topic.arn for topic in provisioned.topics}
    webhook_queue = next(q for q in provisioned.queues if q.spec.logical_id == specs.EVENT_BUS.webhook_queue)
    expected |= {
        specs.EVENT_BUS.env_var: provisioned.event_bus_name,
        specs.ENV_WEBHOOK_DLQ_URL: webhook_queue.dlq_url,
        ENV_WEBHOOK_RETRY: LOCAL_WEBHOOK_RETRY,
    }
    assert env == expected
