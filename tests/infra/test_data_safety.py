"""Data safety: the table, the keys, the evidence bucket and the queues keep data and survive mistakes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.function import pascal_case
from samtykke.resources import TABLE
from tests.infra.synthetic import SYNTHETIC_CONTEXT, SYNTHETIC_SPECS

pytestmark = pytest.mark.infra


def _only(template: Template, resource_type: str, props: dict[str, Any] | None = None) -> dict[str, Any]:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))


def _named(template: Template, resource_type: str, logical_id_prefix: str) -> dict[str, Any]:
    """The one resource whose logical id is the construct path's, e.g. `MessagingCampaignQueue1A9F...`."""
    found = template.find_resources(resource_type)
    (resource,) = (
        found[logical_id] for logical_id in found if re.match(rf"^{logical_id_prefix}[0-9A-F]{{8}}$", logical_id)
    )
    return resource


class TestConsentTable:
    def test_is_built_from_the_table_spec(self, real: Template) -> None:
        real.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "KeySchema": [
                    {"AttributeName": TABLE.partition_key.name, "KeyType": "HASH"},
                    {"AttributeName": TABLE.sort_key.name, "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": TABLE.ttl_attribute, "Enabled": True},
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": index.name,
                        "KeySchema": [
                            {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                            {"AttributeName": index.sort_key.name, "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)},
                    }
                    for index in TABLE.indexes
                ],
            },
        )

    def test_survives_deletion_and_mistakes(self, real: Template) -> None:
        table = _only(real, "AWS::DynamoDB::Table")
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}

    def test_is_encrypted_with_its_own_customer_managed_key(self, real: Template) -> None:
        table = _only(real, "AWS::DynamoDB::Table")
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEEnabled"] is True
        assert sse["SSEType"] == "KMS"
        assert sse["KMSMasterKeyId"]["Fn::GetAtt"][0].startswith("DataTableKey")


def test_every_kms_key_rotates_and_is_retained(real: Template, synthetic: Template) -> None:
    for template in (real, synthetic):
        keys = template.find_resources("AWS::KMS::Key")
        assert len(keys) >= 5  # table, fields, evidence, messaging, logs
        for logical_id, key in keys.items():
            assert key["DeletionPolicy"] == "Retain", logical_id
            if key["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":
                assert key["Properties"]["EnableKeyRotation"] is True, logical_id


def test_checkpoints_are_signed_by_an_asymmetric_p256_key_only_two_functions_may_use(real: Template) -> None:
    [(key_id, key)] = [
        (logical_id, key)
        for logical_id, key in real.find_resources("AWS::KMS::Key").items()
        if key["Properties"].get("KeySpec") == "ECC_NIST_P256"
    ]
    assert key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    signers = set()
    for policy in real.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "kms:Sign" in actions:
                assert statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
                signers.add(policy["Properties"]["Roles"][0]["Ref"])
    # The checkpoint writer, admin_api (its evidence router), admin_rights, split off it, and the console, which
    # runs the same exports (every export signs one)
    assert len(signers) == 4


def test_the_field_key_has_an_alias(real: Template) -> None:
    real.has_resource_properties(
        "AWS::KMS::Alias",
        {
            "AliasName": "alias/samtykke/fields",
            "TargetKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^DataFieldKey"), "Arn"]},
        },
    )


class TestEvidenceBucket:
    @pytest.fixture
    def bucket(self, real: Template) -> dict[str, Any]:
        return _only(real, "AWS::S3::Bucket", {"ObjectLockEnabled": True})

    def test_is_versioned_and_object_locked_in_governance_mode(self, bucket: dict[str, Any]) -> None:
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["ObjectLockConfiguration"] == {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
        }

    def test_is_kms_encrypted_private_logged_and_retained(self, bucket: dict[str, Any]) -> None:
        props = bucket["Properties"]
        (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("EvidenceAccessLogs")
        assert bucket["DeletionPolicy"] == "Retain"

    def test_refuses_plain_http(self, real: Template) -> None:
        real.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": Match.string_like_regexp("^EvidenceBucket")},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )

    def test_retention_follows_context(self, synthetic: Template) -> None:
        bucket = _only(synthetic, "AWS::S3::Bucket", {"ObjectLockEnabled": True})
        retention_days = int(SYNTHETIC_CONTEXT["evidenceRetentionDays"])
        assert bucket["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"] == retention_days


class TestQueues:
    def test_every_spec_queue_has_an_encrypted_dlq_with_a_bounded_receive_count(self, synthetic: Template) -> None:
        for spec in SYNTHETIC_SPECS.queues:
            queue = _named(synthetic, "AWS::SQS::Queue", f"Messaging{spec.logical_id}")
            redrive = queue["Properties"]["RedrivePolicy"]
            assert redrive["maxReceiveCount"] == spec.max_receive_count
            assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0].startswith(f"Messaging{spec.logical_id}Dlq")
            assert queue["Properties"]["VisibilityTimeout"] == spec.visibility_timeout_seconds

    def test_every_queue_is_kms_encrypted_and_tls_only(self, synthetic: Template) -> None:
        queues = synthetic.find_resources("AWS::SQS::Queue")
        consumed_topics = [t for t in SYNTHETIC_SPECS.topics if t.consumer]
        # Each queue with its DLQ, and a DLQ per topic consumer and per schedule.
        expected = 2 * len(SYNTHETIC_SPECS.queues) + len(consumed_topics) + len(SYNTHETIC_SPECS.schedules)
        # Change events: the webhook rule's target DLQ and the table stream's on-failure queue.
        expected += 2 if SYNTHETIC_SPECS.event_bus is not None else 0
        assert len(queues) == expected
        for logical_id, queue in queues.items():
            assert queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("MessagingKey"), logical_id
        policies = synthetic.find_resources("AWS::SQS::QueuePolicy")
        tls_only = [
            policy
            for policy in policies.values()
            if any(
                statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                and statement["Effect"] == "Deny"
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            )
        ]
        assert len(tls_only) == len(queues)

    def test_every_consumer_reports_batch_item_failures(self, synthetic: Template) -> None:
        for queue in SYNTHETIC_SPECS.queues:
            consumer = pascal_case(queue.consumer)
            synthetic.has_resource_properties(
                "AWS::Lambda::EventSourceMapping",
                {
                    "FunctionName": {"Ref": Match.string_like_regexp(f"^Functions{consumer}Function")},
                    "EventSourceArn": {
                        "Fn::GetAtt": [Match.string_like_regexp(f"^Messaging{queue.logical_id}[0-9A-F]{{8}}$"), "Arn"]
                    },
                    "BatchSize": queue.batch_size,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "ScalingConfig": (
                        {"MaximumConcurrency": queue.max_concurrency} if queue.max_concurrency else Match.absent()
                    ),
                },
            )
