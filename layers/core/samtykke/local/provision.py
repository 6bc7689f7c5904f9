"""Creates samtykke's AWS resources from the specs in `samtykke.resources`, on moto or any AWS endpoint.

Works against a moto server (pass `endpoint_url`) and against in-process `moto.mock_aws` (pass only a session),
so integration tests provision exactly what `samtykke local` runs on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from samtykke.environment import ENV_WEBHOOK_RETRY
from samtykke.resources import (
    BUCKET_NOTIFICATIONS,
    DEFAULT_REGION,
    ENV_CHECKPOINT_KEY_ID,
    ENV_EVIDENCE_BUCKET,
    ENV_KMS_KEY_ID,
    ENV_PUBLIC_BASE_URL,
    ENV_SENDER_EMAIL,
    ENV_SES_CONFIGURATION_SET,
    ENV_STAGE,
    ENV_WEBHOOK_DLQ_URL,
    EVENT_BUS,
    QUEUES,
    TABLE,
    TOPICS,
    EventBusSpec,
    QueueSpec,
    TableSpec,
    TopicSpec,
)

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        CreateTableInputTypeDef,
        GlobalSecondaryIndexTypeDef,
    )
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient

# The environment every local handler process runs with: fake credentials, the region, powertools' names.
LOCAL_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
    "AWS_REGION": DEFAULT_REGION,
    "POWERTOOLS_SERVICE_NAME": "samtykke",
    "POWERTOOLS_METRICS_NAMESPACE": "samtykke",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
DEFAULT_PREFIX = "samtykke-local"
DEFAULT_SENDER_EMAIL = "no-reply@samtykke.local"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum, so nothing dead-lettered expires unseen
# Webhook retries on the local stack: 1, 2, 2, 2… seconds for two minutes, rather than hours for a day.
LOCAL_WEBHOOK_RETRY = "1,2,120"


@dataclass(frozen=True)
class QueueResource:
    spec: QueueSpec
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class TopicResource:
    spec: TopicSpec
    arn: str


@dataclass(frozen=True)
class Resources:
    """Names, URLs and ARNs of everything `provision` created."""

    region: str
    table_name: str
    kms_key_arn: str
    kms_alias: str
    checkpoint_key_arn: str
    evidence_bucket: str
    sender_email: str
    ses_configuration_set: str
    queues: tuple[QueueResource, ...]
    topics: tuple[TopicResource, ...]
    table_stream_arn: str = ""
    event_bus_name: str = ""

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary, as written to `.samtykke/local.json`."""
        return {
            "table": self.table_name,
            "kms_key_arn": self.kms_key_arn,
            "kms_alias": self.kms_alias,
            "checkpoint_key_arn": self.checkpoint_key_arn,
            "evidence_bucket": self.evidence_bucket,
            "sender_email": self.sender_email,
            "ses_configuration_set": self.ses_configuration_set,
            "queues": {q.spec.logical_id: {"url": q.url, "dlq_url": q.dlq_url} for q in self.queues},
            "topics": {t.spec.logical_id: t.arn for t in self.topics},
            "table_stream_arn": self.table_stream_arn,
            "event_bus": self.event_bus_name,
        }


def resource_name(prefix: str, logical_id: str) -> str:
    """`ConsentTable` -> `samtykke-local-consent-table`."""
    return f"{prefix}-{re.sub(r'(?<!^)(?=[A-Z])', '-', logical_id).lower()}"


def provision(
    session: boto3.session.Session,
    *,
    endpoint_url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    sender_email: str = DEFAULT_SENDER_EMAIL,
) -> Resources:
    """Create every resource in `samtykke.resources` and return where they are."""

    region = session.region_name or DEFAULT_REGION
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    sns = session.client("sns", endpoint_url=endpoint_url)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    kms_key_arn, kms_alias = _create_kms_key(session.client("kms", endpoint_url=endpoint_url), prefix)
    evidence_bucket = _create_evidence_bucket(s3, f"{prefix}-evidence", region)
    queues = tuple(_create_queue(sqs, resource_name(prefix, spec.logical_id), spec) for spec in QUEUES)
    _notify_queues(s3, sqs, {ENV_EVIDENCE_BUCKET: evidence_bucket}, queues)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    table_name = _create_table(dynamodb, resource_name(prefix, TABLE.logical_id), TABLE)
    event_bus_name = _create_event_bus(session.client("events", endpoint_url=endpoint_url), prefix, EVENT_BUS, queues)
    return Resources(
        region=region,
        table_name=table_name,
        table_stream_arn=dynamodb.describe_table(TableName=table_name)["Table"].get("LatestStreamArn", ""),
        event_bus_name=event_bus_name,
        kms_key_arn=kms_key_arn,
        kms_alias=kms_alias,
        checkpoint_key_arn=_create_checkpoint_key(session.client("kms", endpoint_url=endpoint_url), prefix),
        evidence_bucket=evidence_bucket,
        sender_email=sender_email,
        ses_configuration_set=_create_ses_sender(
            session.client("sesv2", endpoint_url=endpoint_url), prefix, sender_email
        ),
        queues=queues,
        topics=tuple(
            TopicResource(spec, sns.create_topic(Name=resource_name(prefix, spec.logical_id))["TopicArn"])
            for spec in TOPICS
        ),
    )


def handler_environment(resources: Resources, *, public_base_url: str, stage: str = "local") -> dict[str, str]:
    """The SAMTYKKE_* environment variables that the CDK app gives the handlers, pointing at `resources`."""
    env = {
        TABLE.env_var: resources.table_name,
        ENV_KMS_KEY_ID: resources.kms_key_arn,
        ENV_CHECKPOINT_KEY_ID: resources.checkpoint_key_arn,
        ENV_EVIDENCE_BUCKET: resources.evidence_bucket,
        ENV_PUBLIC_BASE_URL: public_base_url,
        ENV_SENDER_EMAIL: resources.sender_email,
        ENV_SES_CONFIGURATION_SET: resources.ses_configuration_set,
        ENV_STAGE: stage,
    }
    env.update({q.spec.env_var: q.url for q in resources.queues})
    env[EVENT_BUS.env_var] = resources.event_bus_name
    env[ENV_WEBHOOK_DLQ_URL] = next(q.dlq_url for q in resources.queues if q.spec.logical_id == EVENT_BUS.webhook_queue)
    env[ENV_WEBHOOK_RETRY] = LOCAL_WEBHOOK_RETRY
    env.update({t.spec.env_var: t.arn for t in resources.topics})
    return env


def _create_table(dynamodb: DynamoDBClient, name: str, spec: TableSpec) -> str:
    keys = [spec.partition_key, spec.sort_key]
    for index in spec.indexes:
        keys += [index.partition_key, index.sort_key]
    attributes: list[AttributeDefinitionTypeDef] = [
        {"AttributeName": attribute, "AttributeType": kind}
        for attribute, kind in {k.name: k.type for k in keys}.items()
    ]
    indexes: list[GlobalSecondaryIndexTypeDef] = [
        {
            "IndexName": index.name,
            "KeySchema": [
                {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                {"AttributeName": index.sort_key.name, "KeyType": "RANGE"},
            ],
            "Projection": (
                {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)}
                if index.projected
                else {"ProjectionType": "KEYS_ONLY"}
            ),
        }
        for index in spec.indexes
    ]
    request: CreateTableInputTypeDef = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attributes,
        "KeySchema": [
            {"AttributeName": spec.partition_key.name, "KeyType": "HASH"},
            {"AttributeName": spec.sort_key.name, "KeyType": "RANGE"},
        ],
    }
    if indexes:  # AWS refuses an empty list
        request["GlobalSecondaryIndexes"] = indexes
    if spec.stream_view_type:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
    dynamodb.create_table(**request)
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
    )
    return name


def _create_event_bus(events: Any, prefix: str, spec: EventBusSpec, queues: tuple[QueueResource, ...]) -> str:
    """The bus, its archive, and the rule that sends samtykke's events to the webhook queue, as the CDK app has."""
    name = resource_name(prefix, spec.logical_id)
    bus_arn = events.create_event_bus(Name=name)["EventBusArn"]
    events.create_archive(
        ArchiveName=f"{name}-archive",
        EventSourceArn=bus_arn,
        EventPattern=json.dumps({"source": [spec.source]}),
        RetentionDays=spec.archive_retention_days,
    )
    queue = next(q for q in queues if q.spec.logical_id == spec.webhook_queue)
    rule = f"{name}-webhooks"
    events.put_rule(Name=rule, EventBusName=name, EventPattern=json.dumps({"source": [spec.source]}))
    events.put_targets(Rule=rule, EventBusName=name, Targets=[{"Id": "webhook-queue", "Arn": queue.arn}])
    return name


def _create_kms_key(kms: KMSClient, prefix: str) -> tuple[str, str]:
    key_arn: str = kms.create_key(Description=f"{prefix} field encryption")["KeyMetadata"]["Arn"]
    alias = f"alias/{prefix}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    return key_arn, alias


def _create_checkpoint_key(kms: KMSClient, prefix: str) -> str:
    """The asymmetric key that signs checkpoints (services/evidence_log/checkpoints.py)."""
    key_arn: str = kms.create_key(
        Description=f"{prefix} checkpoint signing", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"
    )["KeyMetadata"]["Arn"]
    return key_arn


def _create_evidence_bucket(s3: S3Client, name: str, region: str) -> str:
    # Object Lock can only be switched on at creation; it turns versioning on with it.
    s3.create_bucket(
        Bucket=name,
        ObjectLockEnabledForBucket=True,
        CreateBucketConfiguration={"LocationConstraint": cast("BucketLocationConstraintType", region)},
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _notify_queues(s3: S3Client, sqs: SQSClient, buckets: dict[str, str], queues: tuple[QueueResource, ...]) -> None:
    """BUCKET_NOTIFICATIONS: each bucket sends its object events to the named queue, as the CDK app wires them."""
    by_id = {queue.spec.logical_id: queue for queue in queues}
    configurations: dict[str, list[Any]] = {}
    for spec in BUCKET_NOTIFICATIONS:
        queue, bucket = by_id[spec.queue], buckets[spec.bucket]
        configuration: dict[str, Any] = {"Id": spec.logical_id, "QueueArn": queue.arn, "Events": list(spec.events)}
        if spec.prefix:
            configuration["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": spec.prefix}]}}
        configurations.setdefault(bucket, []).append(configuration)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={"Policy": json.dumps(policy)})
    for bucket, queue_configurations in configurations.items():
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": queue_configurations},
        )


def _create_ses_sender(sesv2: SESV2Client, prefix: str, sender_email: str) -> str:
    """Verify the sender's domain (moto treats a created identity as verified) and create the configuration set."""
    sesv2.create_email_identity(EmailIdentity=sender_email.rpartition("@")[2])
    sesv2.create_configuration_set(ConfigurationSetName=prefix)
    return prefix


def _create_queue(sqs: SQSClient, name: str, spec: QueueSpec) -> QueueResource:
    dlq_url: str = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)}
    url: str = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(spec.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return QueueResource(spec=spec, url=url, arn=_queue_arn(sqs, url), dlq_url=dlq_url, dlq_arn=dlq_arn)


def _queue_arn(sqs: SQSClient, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn
