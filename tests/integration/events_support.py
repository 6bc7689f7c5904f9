"""Drives the event pipeline on in-process moto as Lambda would: the table stream into change_publisher, and the
webhook queue (fed by the bus's rule) into webhook_delivery."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

from samtykke.local.consumers import sqs_record, stream_record
from samtykke.local.lambdas import invoke
from samtykke.local.provision import Resources

# botocore 1.44 addresses DynamoDB Streams by account (`{account}.streams-ddb…`), which in-process moto 5.1 does not
# route; the regional endpoint it does route is the one with account ids off.
_STREAMS_CONFIG = Config(account_id_endpoint_mode="disabled")


class Pipeline:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.streams = boto3.client("dynamodbstreams", config=_STREAMS_CONFIG)
        self.sqs = boto3.client("sqs")
        self.queue = next(q for q in resources.queues if q.spec.logical_id == "WebhookQueue")
        shard = self.streams.describe_stream(StreamArn=resources.table_stream_arn)["StreamDescription"]["Shards"][0]
        self._iterator = self.streams.get_shard_iterator(
            StreamArn=resources.table_stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def publish(self) -> list[dict[str, Any]]:
        """Every stream record since the last call, through change_publisher; returns the records."""
        records: list[dict[str, Any]] = []
        while True:
            page = self.streams.get_records(ShardIterator=self._iterator, Limit=100)
            self._iterator = page["NextShardIterator"]
            if not page["Records"]:
                return records
            records += page["Records"]
            event = {"Records": [stream_record(r, self.resources.table_stream_arn) for r in page["Records"]]}
            assert invoke("change_publisher", event) == {"batchItemFailures": []}

    def deliver(self, *, wait_seconds: int = 0) -> int:
        """Feeds what is on the webhook queue to webhook_delivery, once; returns how many messages it handled."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, queue_arn=self.queue.arn, region=self.resources.region) for m in messages]}
        result = invoke("webhook_delivery", event)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def run(self, *, rounds: int = 1, wait_seconds: int = 0) -> None:
        self.publish()
        for _ in range(rounds):
            while self.deliver(wait_seconds=wait_seconds):
                pass

    def dead_letters(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]
