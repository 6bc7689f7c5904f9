"""One samtykke deployment in one EU region, built from `ResourceSpecs`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import CfnOutput, Environment, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from infra.config import ConfigError, DeploymentConfig, ensure_eu_region
from infra.constructs.api import HttpApi
from infra.constructs.data import DataStore
from infra.constructs.events import ChangeEvents
from infra.constructs.evidence import EvidenceStore
from infra.constructs.function import FUNCTIONS_DIR, FunctionFactory
from infra.constructs.layers import SharedLayers
from infra.constructs.logs import LogStore
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring
from infra.grants import GrantTargets, apply_grants
from infra.nag import acknowledge
from infra.specs import AUTHORIZER_FUNCTION, ResourceSpecs
from samtykke.resources import (
    ENV_EVIDENCE_BUCKET,
    ENV_KMS_KEY_ID,
    ENV_PUBLIC_BASE_URL,
    ENV_SENDER_EMAIL,
    ENV_SES_CONFIGURATION_SET,
    ENV_STAGE,
    ENV_TABLE,
)

# The S3 notation the specs (and the local stack's moto) use, in CDK's terms.
_S3_EVENT_TYPES = {"s3:ObjectCreated:*": s3.EventType.OBJECT_CREATED, "s3:ObjectRemoved:*": s3.EventType.OBJECT_REMOVED}

# The id CDK gives the singleton Lambda behind `add_event_notification`.
BUCKET_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"

STAGE = "aws"  # ENV_STAGE: tells application code it runs on AWS rather than in the local stack


class SamtykkeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        region: str,
        config: DeploymentConfig,
        specs: ResourceSpecs | None = None,
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        """`functions_dir` holds one folder of handler code per FunctionSpec."""
        super().__init__(
            scope,
            construct_id,
            env=Environment(
                account=config.account,
                region=ensure_eu_region(region, allow_adequacy=config.allow_adequacy_regions),
            ),
            description=f"samtykke: GDPR consent backend ({region})",
            termination_protection=True,
        )
        specs = specs or ResourceSpecs()
        unknown = sorted(set(config.reserved_concurrency) - {spec.name for spec in specs.functions})
        if unknown:
            raise ConfigError(f"reservedConcurrency names functions that FUNCTIONS does not declare: {unknown}")
        Tags.of(self).add("app", "samtykke")

        data = DataStore(self, "Data", spec=specs.table)
        evidence = EvidenceStore(self, "Evidence", retention_days=config.evidence_retention_days)
        log_store = LogStore(self, "Logs", retention=config.log_retention)
        messaging = Messaging(
            self,
            "Messaging",
            queues=specs.queues,
            topics=specs.topics,
            ses_identity=config.ses_identity,
            create_ses_identity=config.create_ses_identity,
            alarm_email=config.alarm_email,
        )
        change_events = (
            ChangeEvents(
                self, "Events", bus=specs.event_bus, stream=specs.table_stream, table=data.table, messaging=messaging
            )
            if specs.event_bus is not None and specs.table_stream is not None
            else None
        )
        api = HttpApi(
            self,
            "Http",
            log_store=log_store,
            default_throttle=config.api_throttle,
            public_route_throttle=config.public_route_throttle,
            custom_domain=config.custom_domain,
        )

        factory = FunctionFactory(
            self,
            "Functions",
            layers=SharedLayers(self, "Layers").all,
            log_store=log_store,
            environment={
                ENV_TABLE: data.table.table_name,
                ENV_KMS_KEY_ID: data.field_key.key_arn,
                ENV_EVIDENCE_BUCKET: evidence.bucket.bucket_name,
                ENV_PUBLIC_BASE_URL: api.public_base_url,
                ENV_SENDER_EMAIL: config.sender_email,
                ENV_SES_CONFIGURATION_SET: messaging.configuration_set.configuration_set_name,
                ENV_STAGE: STAGE,
            },
            log_level=config.log_level,
            reserved_concurrency=config.reserved_concurrency,
            functions_dir=functions_dir,
        )
        grant_targets = GrantTargets(
            specs=specs,
            table=data.table,
            field_key=data.field_key,
            evidence_bucket=evidence.bucket,
            evidence_key=evidence.key,
            checkpoint_key=evidence.checkpoint_key,
            queues=messaging.queues,
            ses_send_resources=self._ses_send_resources(config, messaging.configuration_set.configuration_set_name),
            event_bus=change_events.bus if change_events is not None else None,
            dead_letter_queues=messaging.dead_letter_queues,
        )
        async_dead_letter_queues = messaging.topic_consumer_dead_letter_queues()
        for spec in specs.deployed_functions:
            function = factory.build(spec, dead_letter_queue=async_dead_letter_queues.get(spec.name))
            apply_grants(function, spec, grant_targets)
        functions = factory.functions

        messaging.connect_consumers(functions)
        if change_events is not None:
            change_events.connect(functions)
        self._bucket_notifications(specs, {ENV_EVIDENCE_BUCKET: evidence.bucket}, messaging)
        self._schedules(specs, functions, messaging)
        api.add_routes(specs.deployed_routes, functions, authorizer_function=functions.get(AUTHORIZER_FUNCTION))
        Monitoring(
            self,
            "Monitoring",
            alarm_topic=messaging.ops_topic,
            functions=functions,
            queues=messaging.queues,
            dead_letter_queues=messaging.dead_letter_queues,
            http_api=api.http_api,
        )

        self._outputs(data, evidence, messaging, api)

    def _bucket_notifications(
        self, specs: ResourceSpecs, buckets: Mapping[str, s3.Bucket], messaging: Messaging
    ) -> None:
        """S3 events to queues. CDK adds the queue policy and lets S3 use the queue's KMS key."""
        for spec in specs.bucket_notifications:
            destination = s3n.SqsDestination(messaging.queues[spec.queue])
            for event in spec.events:
                buckets[spec.bucket].add_event_notification(
                    _S3_EVENT_TYPES[event], destination, s3.NotificationKeyFilter(prefix=spec.prefix)
                )
        handler = self.node.try_find_child(BUCKET_NOTIFICATIONS_HANDLER)
        if handler is not None:
            acknowledge(
                handler,
                "AwsSolutions-IAM4",
                "CDK's own custom resource that applies bucket notification configuration at deploy time; its role "
                "has only the managed basic-execution policy (logs) plus s3:PutBucketNotification.",
                finding="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            )

    def _schedules(self, specs: ResourceSpecs, functions: Mapping[str, lambda_.Function], messaging: Messaging) -> None:
        for spec in specs.schedules:
            target = events_targets.LambdaFunction(
                functions[spec.function],
                retry_attempts=2,
                dead_letter_queue=messaging.schedule_dead_letter_queue(spec.logical_id),
            )
            events.Rule(
                self,
                spec.logical_id,
                description=spec.description or None,
                schedule=events.Schedule.expression(spec.expression),
                targets=[target],
            )

    def _ses_send_resources(self, config: DeploymentConfig, configuration_set_name: str) -> list[str]:
        identities = dict.fromkeys((config.ses_identity, config.sender_email))  # a domain and its address
        return [
            *(self.format_arn(service="ses", resource="identity", resource_name=identity) for identity in identities),
            self.format_arn(service="ses", resource="configuration-set", resource_name=configuration_set_name),
        ]

    def _outputs(self, data: DataStore, evidence: EvidenceStore, messaging: Messaging, api: HttpApi) -> None:
        """What the `samtykke` CLI and operators read off the stack. Output ids are stable: treat them as API."""
        outputs = {
            "TableName": (data.table.table_name, f"{ENV_TABLE}: the consent table"),
            "ApiUrl": (api.public_base_url, f"{ENV_PUBLIC_BASE_URL}: the HTTP API's base URL"),
            "FieldKeyId": (data.field_key.key_id, f"{ENV_KMS_KEY_ID}: the field-encryption KMS key"),
            "FieldKeyArn": (data.field_key.key_arn, "The field-encryption KMS key's ARN"),
            "EvidenceBucketName": (evidence.bucket.bucket_name, f"{ENV_EVIDENCE_BUCKET}: the evidence bucket"),
            "SesConfigurationSetName": (
                messaging.configuration_set.configuration_set_name,
                f"{ENV_SES_CONFIGURATION_SET}: the SES configuration set",
            ),
            "OpsTopicArn": (messaging.ops_topic.topic_arn, "Alarms go to this SNS topic: subscribe on-call to it"),
        }
        for logical_id, queue in messaging.queues.items():
            outputs[f"{logical_id}Url"] = (queue.queue_url, f"The {logical_id} queue's URL")
        for logical_id, dead_letter_queue in messaging.dead_letter_queues.items():
            outputs[f"{logical_id}DlqUrl"] = (dead_letter_queue.queue_url, f"{logical_id}'s dead-letter queue")
        for logical_id, topic in messaging.topics.items():
            outputs[f"{logical_id}Arn"] = (topic.topic_arn, f"The {logical_id} topic's ARN")
        if api.domain_name is not None:
            outputs["ApiDomainTarget"] = (
                api.domain_name.regional_domain_name,
                "Point the custom domain's DNS (CNAME or alias) at this name",
            )
        if messaging.email_identity is not None:
            identity = messaging.email_identity
            for index, (name, value) in enumerate(
                (
                    (identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
                    (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
                    (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3),
                ),
                start=1,
            ):
                outputs[f"SesDkimRecord{index}"] = (
                    self.to_json_string({"type": "CNAME", "name": name, "value": value}),
                    "Easy DKIM: publish this CNAME record in the sending domain's DNS",
                )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
