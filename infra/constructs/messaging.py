"""Queues and topics from QUEUES and TOPICS, the SES configuration set, and the ops alarm topic.

Every queue and topic is KMS-encrypted with one messaging key and refuses plain-HTTP access. Each
QueueSpec gets a dead-letter queue; each topic with a consumer gets one too, for deliveries and
invocations that keep failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge
from samtykke.resources import SES_PUBLISHER, QueueSpec, TopicSpec

# The SES events the ses-events topic carries: what suppresses an address or shows a broken send.
_SES_EVENT_TYPES = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
)
_DLQ_RETENTION = Duration.days(14)  # the SQS maximum: time to inspect and redrive
# SQS asks KMS for a new data key at most this often per sender, which keeps campaign fan-out far below
# KMS's request quota.
_DATA_KEY_REUSE = Duration.hours(1)


class Messaging(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queues: Sequence[QueueSpec],
        topics: Sequence[TopicSpec],
        ses_identity: str,
        create_ses_identity: bool,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._key_services: set[str] = set()
        self._queue_specs = tuple(queues)
        self._topic_specs = tuple(topics)
        self.key = kms.Key(
            self,
            "Key",
            description="samtykke: encrypts queues and topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.queues: dict[str, sqs.Queue] = {}
        self.topics: dict[str, sns.Topic] = {}
        # By the logical id of the queue or topic whose failures they hold.
        self.dead_letter_queues: dict[str, sqs.Queue] = {}

        for queue_spec in queues:
            self._add_queue(queue_spec)
        for topic_spec in topics:
            self._add_topic(topic_spec)

        self.ops_topic = self._topic("OpsAlarms", display_name="samtykke alarms")
        self._allow_publisher(self.ops_topic, "cloudwatch.amazonaws.com")
        if alarm_email:
            self.ops_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
            acknowledge(
                self.ops_topic,
                "Serverless-SNSRedrivePolicy",
                "The alarm e-mail subscription: an undeliverable alarm e-mail has no better place to go, and the "
                "alarm itself stays visible in CloudWatch.",
            )

        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            reputation_metrics=True,
            sending_enabled=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        ses_events_topic = next((self.topics[s.logical_id] for s in topics if s.publisher == SES_PUBLISHER), None)
        if ses_events_topic is not None:
            self.configuration_set.add_event_destination(
                "SesEvents",
                destination=ses.EventDestination.sns_topic(ses_events_topic),
                events=list(_SES_EVENT_TYPES),
            )
        self.email_identity = self._email_identity(ses_identity) if create_ses_identity else None

    def connect_consumers(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        """Subscribes each spec's consumer: an SQS event source per queue, a Lambda subscription per topic."""
        for queue_spec in self._queue_specs:
            consumer = functions[queue_spec.consumer]
            consumer.add_event_source(
                event_sources.SqsEventSource(
                    self.queues[queue_spec.logical_id],
                    batch_size=queue_spec.batch_size,
                    report_batch_item_failures=True,
                    max_concurrency=queue_spec.max_concurrency,
                )
            )
            acknowledge(
                consumer,
                "Serverless-LambdaEventSourceMappingDestination",
                "Lambda offers no on-failure destination for SQS event sources: a failing message returns to the "
                "queue, and its redrive policy moves it to the queue's DLQ after maxReceiveCount receives.",
            )
        for topic_spec in self._topic_specs:
            if topic_spec.consumer is None:
                continue
            self.topics[topic_spec.logical_id].add_subscription(
                subscriptions.LambdaSubscription(
                    functions[topic_spec.consumer], dead_letter_queue=self.dead_letter_queues[topic_spec.logical_id]
                )
            )

    def topic_consumer_dead_letter_queues(self) -> dict[str, sqs.IQueue]:
        """By consumer function name: the DLQ that also catches that function's failed async invocations."""
        return {
            spec.consumer: self.dead_letter_queues[spec.logical_id]
            for spec in self._topic_specs
            if spec.consumer is not None
        }

    def schedule_dead_letter_queue(self, logical_id: str) -> sqs.Queue:
        """A DLQ for an EventBridge schedule's target (alarmed like the others). EventBridge writes to it, so it
        may use the queues' key."""
        queue = self.dead_letter_queues[logical_id] = self._dead_letter_queue(logical_id)
        self._allow_service_to_use_key("events.amazonaws.com")
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is an EventBridge target's dead-letter queue; cdk-nag recognises only SQS redrive DLQs.",
        )
        return queue

    def dead_letter_queue(self, logical_id: str, *, reason: str) -> sqs.Queue:
        """A dead-letter queue for a non-SQS source (a stream's on-failure destination), alarmed like the others."""
        queue = self.dead_letter_queues[logical_id] = self._dead_letter_queue(logical_id)
        acknowledge(queue, "AwsSolutions-SQS3", f"{reason}; cdk-nag recognises only SQS redrive DLQs.")
        return queue

    def _add_queue(self, spec: QueueSpec) -> None:
        dead_letter_queue = self._dead_letter_queue(spec.logical_id)
        self.dead_letter_queues[spec.logical_id] = dead_letter_queue
        self.queues[spec.logical_id] = self._queue(
            spec.logical_id,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=spec.max_receive_count),
        )

    def _add_topic(self, spec: TopicSpec) -> None:
        topic = self._topic(spec.logical_id)
        self.topics[spec.logical_id] = topic
        if spec.publisher is not None:
            self._allow_publisher(topic, spec.publisher)
        if spec.consumer is not None:
            # SNS itself writes undeliverable messages to this queue, so it needs the key too.
            self.dead_letter_queues[spec.logical_id] = self._dead_letter_queue(spec.logical_id)
            self._allow_service_to_use_key("sns.amazonaws.com")

    def _queue(
        self,
        construct_id: str,
        *,
        retention_period: Duration | None = None,
        visibility_timeout: Duration | None = None,
        dead_letter_queue: sqs.DeadLetterQueue | None = None,
    ) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            data_key_reuse=_DATA_KEY_REUSE,
            enforce_ssl=True,
            retention_period=retention_period,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=dead_letter_queue,
        )

    def _dead_letter_queue(self, logical_id: str) -> sqs.Queue:
        queue = self._queue(f"{logical_id}Dlq", retention_period=_DLQ_RETENTION)
        acknowledge(
            queue,
            "Serverless-SQSRedrivePolicy",
            "This is a dead-letter queue, the end of the line: messages wait here to be inspected and redriven, "
            "and an alarm fires as soon as one arrives.",
        )
        return queue

    def _topic(self, construct_id: str, *, display_name: str | None = None) -> sns.Topic:
        return sns.Topic(self, construct_id, master_key=self.key, enforce_ssl=True, display_name=display_name)

    def _email_identity(self, identity: str) -> ses.EmailIdentity:
        """The sending identity; a domain gets Easy DKIM, whose CNAME records the stack outputs."""
        return ses.EmailIdentity(
            self,
            "SenderIdentity",
            identity=ses.Identity.email(identity) if "@" in identity else ses.Identity.domain(identity),
            configuration_set=self.configuration_set,
        )

    def _allow_publisher(self, topic: sns.Topic, service: str) -> None:
        """An AWS service in this account may publish to the topic (the topic policy is the gate)."""
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self._allow_service_to_use_key(service)

    def _allow_service_to_use_key(self, service: str) -> None:
        """Key policy: an AWS service may encrypt and decrypt messages it puts on our queues and topics.

        No condition: these are the statements AWS documents for each service, and the topic and queue
        policies decide who may publish or send in the first place.
        """
        if service in self._key_services:
            return
        self._key_services.add(service)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
