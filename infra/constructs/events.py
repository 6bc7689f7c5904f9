"""Change events: the table stream's consumer, the event bus with its archive, and the rule to webhook delivery.

The stream is the outbox (only committed writes appear on it). Its consumer retries a failing batch, halving it to
isolate a bad record, and sends what still fails to a dead-letter queue, alarmed like every other. The archive keeps
every samtykke event for replay (EventBridge `StartReplay`) after an outage of a consumer.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.constructs.messaging import Messaging
from samtykke.resources import EventBusSpec, StreamSpec


class ChangeEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: EventBusSpec,
        stream: StreamSpec,
        table: dynamodb.Table,
        messaging: Messaging,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bus_spec = bus
        self._stream = stream
        self._table = table
        self.bus = events.EventBus(self, bus.logical_id, description="samtykke: consent change events (CloudEvents)")
        pattern = events.EventPattern(source=[bus.source])
        self.archive = self.bus.archive(
            "Archive",
            description="Every samtykke change event, for replay",
            event_pattern=pattern,
            retention=Duration.days(bus.archive_retention_days),
        )
        webhook_queue = messaging.queues[bus.webhook_queue]
        self.webhook_rule = events.Rule(
            self,
            "WebhookRule",
            event_bus=self.bus,
            description="Change events to webhook delivery, which fans them out to the tenants' subscriptions",
            event_pattern=pattern,
            targets=[
                events_targets.SqsQueue(
                    webhook_queue,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                    dead_letter_queue=messaging.schedule_dead_letter_queue("WebhookRule"),
                )
            ],
        )
        self.stream_failures = messaging.dead_letter_queue(
            f"{stream.logical_id}Failures", reason="The table stream consumer's on-failure destination"
        )

    def connect(self, functions: Mapping[str, lambda_.Function]) -> None:
        functions[self._stream.consumer].add_event_source(
            event_sources.DynamoEventSource(
                self._table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=self._stream.batch_size,
                bisect_batch_on_error=True,
                retry_attempts=self._stream.max_retries,
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.stream_failures),
            )
        )
