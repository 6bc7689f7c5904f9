"""Queue and topic consumers: SQS event source mappings and SNS subscriptions, each polled by a thread.

A queue consumer long-polls its queue, invokes the function with an SQS event of up to `batch_size` records and
deletes the records that did not fail (partial batch responses). A failed record stays, becomes visible again after the
queue's visibility timeout, and SQS moves it to the DLQ after `max_receive_count` receives, as on AWS.

A stream consumer stands in for a DynamoDB-stream event source mapping: it reads the table's stream in order, invokes
the function with up to `batch_size` records, and on a reported failure starts again from the failed record; after
`max_retries` it skips the record (Lambda would send it to the on-failure destination) and logs it.

A topic consumer stands in for a Lambda subscription: the topic delivers to an internal queue, and each notification
is invoked as an SNS event with one record. A failing notification is retried twice, like Lambda's asynchronous
invocation, and then dropped.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from samtykke.local import LOGGER
from samtykke.local.lambdas import Invoker
from samtykke.local.provision import QueueResource, TopicResource

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

log = logging.getLogger(f"{LOGGER}.consumers")

WAIT_SECONDS = 1  # long-poll wait; also bounds how long stop() takes
SQS_MAX_RECEIVE = 10
SNS_ATTEMPTS = 3  # Lambda invokes an SNS event up to three times
SNS_RETRY_SECONDS = 1  # the internal queue's visibility timeout, so a failed notification is retried soon
# Delayed messages are not counted: a webhook retry scheduled for later is waiting, not work under way.
QUEUE_DEPTH_ATTRIBUTES: list[QueueAttributeNameType] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
]


STREAM_POLL_SECONDS = 0.2  # Lambda polls a stream's shards about four times a second


@dataclass
class _Stream:
    """One polled table stream (a single shard, as moto has), and how far its consumer got."""

    function: str
    arn: str
    batch_size: int
    max_retries: int
    last_sequence: str | None = None


@dataclass(frozen=True)
class _Source:
    """One polled queue: which function consumes it, and how messages become an event and get settled."""

    function: str
    queue_url: str
    batch_size: int
    to_event: Callable[[list[MessageTypeDef]], dict[str, Any]]
    # Given the batch and the handler's result (or its exception), the messages to delete.
    settle: Callable[[list[MessageTypeDef], Any], list[MessageTypeDef]]


class Consumers:
    """Runs every queue and topic consumer, and tells when all of them are idle."""

    def __init__(self, sqs: SQSClient, invoke: Invoker, *, region: str, pollers: int = 1) -> None:
        self._sqs = sqs
        self._pollers = pollers  # concurrent pollers per queue, as Lambda's event source mapping runs several
        self._invoke = invoke
        self._region = region
        self._sources: list[_Source] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0  # batches being invoked or settled
        self._settled = 0
        self._streams: list[tuple[_Stream, Any]] = []  # with its dynamodbstreams client

    def add_queue(self, queue: QueueResource) -> None:
        def to_event(messages: list[MessageTypeDef]) -> dict[str, Any]:
            return {"Records": [sqs_record(m, queue_arn=queue.arn, region=self._region) for m in messages]}

        self._sources.append(
            _Source(queue.spec.consumer, queue.url, queue.spec.batch_size, to_event, _settle_partial_batch)
        )

    def add_topic(self, topic: TopicResource, sns: SNSClient, *, queue_name: str) -> None:
        """Subscribe an internal queue to the topic, delivering each notification to the topic's consumer."""
        if topic.spec.consumer is None:
            return
        url = self._sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": str(SNS_RETRY_SECONDS)})[
            "QueueUrl"
        ]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subscription_arn = sns.subscribe(TopicArn=topic.arn, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True)[
            "SubscriptionArn"
        ]

        def to_event(messages: list[MessageTypeDef]) -> dict[str, Any]:
            return {"Records": [sns_record(json.loads(m["Body"]), subscription_arn) for m in messages]}

        self._sources.append(_Source(topic.spec.consumer, url, 1, to_event, _settle_with_retries))

    def add_stream(self, streams: Any, *, arn: str, function: str, batch_size: int, max_retries: int) -> None:
        """Polls the table stream `arn` (a `dynamodbstreams` client) into `function`, from its oldest record."""
        self._streams.append((_Stream(function, arn, batch_size, max_retries), streams))

    def start(self) -> None:
        for stream, client in self._streams:
            thread = threading.Thread(
                target=self._poll_stream, args=(stream, client), name=f"stream-{stream.function}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        for source in self._sources:
            for poller in range(self._pollers):
                thread = threading.Thread(
                    target=self._poll, args=(source,), name=f"consumer-{source.function}-{poller}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def drain(self, timeout: float = 30.0) -> None:
        """Return once every consumed queue is empty and no consumer is busy; raise TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                before = (self._in_flight, self._settled)
            # A handler that sends to another queue settles only after sending, so an unchanged count means no
            # message appeared behind our back while the queues were being read.
            if before[0] == 0 and self._queues_empty():
                with self._lock:
                    if (self._in_flight, self._settled) == before:
                        return
            time.sleep(0.05)
        raise TimeoutError(f"queues not drained within {timeout} s")

    def _queues_empty(self) -> bool:
        for stream, client in self._streams:
            if client.get_records(ShardIterator=self._iterator(stream, client), Limit=1)["Records"]:
                return False
        for source in self._sources:
            depth = self._sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=QUEUE_DEPTH_ATTRIBUTES)
            if any(int(count) for count in depth["Attributes"].values()):
                return False
        return True

    def _poll(self, source: _Source) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive(source)
                if messages:
                    self._dispatch(source, messages)
            except Exception:
                log.exception("consuming %s failed", source.queue_url)
                self._stop.wait(WAIT_SECONDS)

    def _iterator(self, stream: _Stream, client: Any, *, at: str | None = None) -> str:
        shard = client.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"][0]["ShardId"]
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if at is not None:
            position = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": at}
        elif stream.last_sequence is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": stream.last_sequence}
        iterator: str = client.get_shard_iterator(StreamArn=stream.arn, ShardId=shard, **position)["ShardIterator"]
        return iterator

    def _poll_stream(self, stream: _Stream, client: Any) -> None:
        iterator: str | None = None
        retries = 0
        while not self._stop.is_set():
            try:
                iterator = iterator or self._iterator(stream, client)
                page = client.get_records(ShardIterator=iterator, Limit=stream.batch_size)
                records = page["Records"]
                if not records:
                    iterator = page.get("NextShardIterator")
                    self._stop.wait(STREAM_POLL_SECONDS)
                    continue
                failed = self._invoke_stream(stream, records)
                if failed is None:
                    stream.last_sequence, retries = records[-1]["dynamodb"]["SequenceNumber"], 0
                    iterator = page.get("NextShardIterator")
                    continue
                retries += 1
                done = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) < int(failed)]
                if done:
                    stream.last_sequence = done[-1]["dynamodb"]["SequenceNumber"]
                if retries > stream.max_retries:
                    log.error("skipping stream record %s after %d retries", failed, stream.max_retries)
                    stream.last_sequence, retries = failed, 0
                    iterator = None
                else:
                    iterator = self._iterator(stream, client, at=failed)
                    self._stop.wait(STREAM_POLL_SECONDS)
            except Exception:
                log.exception("consuming stream %s failed", stream.arn)
                iterator = None
                self._stop.wait(WAIT_SECONDS)

    def _invoke_stream(self, stream: _Stream, records: list[dict[str, Any]]) -> str | None:
        """Invokes the function with the records; the sequence number to resume from if it failed, else None."""
        with self._lock:
            self._in_flight += 1
        try:
            event = {"Records": [stream_record(r, stream.arn) for r in records]}
            try:
                result: Any = self._invoke(stream.function, event)
            except Exception:
                log.exception("stream consumer %s raised", stream.function)
                return str(records[0]["dynamodb"]["SequenceNumber"])
            failures = result.get("batchItemFailures", []) if isinstance(result, dict) else []
            return str(failures[0]["itemIdentifier"]) if failures else None
        finally:
            with self._lock:
                self._in_flight -= 1
                self._settled += 1

    def _receive(self, source: _Source) -> list[MessageTypeDef]:
        """Gather up to `batch_size` messages: wait for the first, then take whatever is already there."""
        batch: list[MessageTypeDef] = []
        wait = WAIT_SECONDS
        while len(batch) < source.batch_size:
            wanted = min(SQS_MAX_RECEIVE, source.batch_size - len(batch))
            received = self._sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch += received
            if len(received) < wanted:
                break
            wait = 0
        return batch

    def _dispatch(self, source: _Source, messages: list[MessageTypeDef]) -> None:
        with self._lock:
            self._in_flight += 1
        try:
            try:
                result: Any = self._invoke(source.function, source.to_event(messages))
            except Exception as error:
                log.exception("consumer %s raised", source.function)
                result = error
            for message in source.settle(messages, result):
                self._sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])
        finally:
            with self._lock:
                self._in_flight -= 1
                self._settled += 1


def _settle_partial_batch(messages: list[MessageTypeDef], result: Any) -> list[MessageTypeDef]:
    if isinstance(result, Exception):
        return []
    failures = result.get("batchItemFailures", []) if isinstance(result, dict) else []
    failed = {failure["itemIdentifier"] for failure in failures}
    return [message for message in messages if message["MessageId"] not in failed]


def _settle_with_retries(messages: list[MessageTypeDef], result: Any) -> list[MessageTypeDef]:
    if not isinstance(result, Exception):
        return messages
    exhausted = [
        m for m in messages if int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")) >= SNS_ATTEMPTS
    ]
    for message in exhausted:
        log.error("dropping SNS notification %s after %d attempts", message["MessageId"], SNS_ATTEMPTS)
    return exhausted


def sqs_record(message: MessageTypeDef, *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the SQS event that Lambda's event source mapping sends."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    attribute: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [b64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType", "String"),  # some moto versions omit it on S3-sent messages
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = b64(value["BinaryValue"])
    return attribute


def stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record of the DynamoDB-stream event Lambda sends: times as epoch seconds, binary values as base64."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = created.timestamp()
    for image in ("Keys", "NewImage", "OldImage"):
        if image in body:
            body[image] = _base64_binaries(body[image])
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion"),
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }


def _base64_binaries(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _base64_binaries(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_base64_binaries(v) for v in value]
    return value


def sns_record(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """One record of the SNS event that Lambda receives, from the envelope SNS delivers to SQS (raw delivery off)."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope["Type"],
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope.get("SignatureVersion"),
            "Signature": envelope.get("Signature"),
            "SigningCertUrl": envelope.get("SigningCertURL"),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL"),
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        },
    }
