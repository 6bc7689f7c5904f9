"""The local queue and topic consumers call functions the way Lambda's SQS and SNS integrations do."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from samtykke.local.consumers import Consumers
from samtykke.local.provision import QueueResource, TopicResource, _create_queue
from samtykke.resources import DEFAULT_REGION, QueueSpec, TopicSpec

pytestmark = pytest.mark.integration

Behaviour = Callable[[dict[str, Any]], Any]


class Recorder:
    """Stands in for the functions: records each invocation and answers with `behaviour`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.behaviour: Behaviour = lambda _: None
        self._lock = threading.Lock()

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        with self._lock:
            self.events.append((function, event))
        return self.behaviour(event)

    def bodies(self) -> list[str]:
        return [record["body"] for _, event in self.events for record in event["Records"]]


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.session.Session(region_name=DEFAULT_REGION)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def queue(session: boto3.session.Session) -> QueueResource:
    spec = QueueSpec(
        "WorkQueue",
        "SAMTYKKE_WORK_QUEUE_URL",
        "worker",
        max_receive_count=2,
        visibility_timeout_seconds=5,  # room for a slow dispatch on a loaded machine before SQS redelivers
        batch_size=5,
    )
    return _create_queue(session.client("sqs"), "work", spec)


@pytest.fixture
def running(session: boto3.session.Session, recorder: Recorder) -> Iterator[Callable[..., Consumers]]:
    started: list[Consumers] = []

    def start(queue: QueueResource | None = None, topic: TopicResource | None = None) -> Consumers:
        consumers = Consumers(session.client("sqs"), recorder, region=DEFAULT_REGION)
        if queue is not None:
            consumers.add_queue(queue)
        if topic is not None:
            consumers.add_topic(topic, session.client("sns"), queue_name="topic-subscription")
        consumers.start()
        started.append(consumers)
        return consumers

    yield start
    for consumers in started:
        consumers.stop()


def send(session: boto3.session.Session, queue: QueueResource, *bodies: str) -> None:
    sqs = session.client("sqs")
    for body in bodies:
        sqs.send_message(
            QueueUrl=queue.url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )


def dead_letters(session: boto3.session.Session, queue: QueueResource) -> list[str]:
    received = session.client("sqs").receive_message(QueueUrl=queue.dlq_url, MaxNumberOfMessages=10)
    return [message["Body"] for message in received.get("Messages", [])]


def test_records_look_like_the_sqs_event_lambda_sends(
    session: boto3.session.Session, queue: QueueResource, recorder: Recorder, running: Callable[..., Consumers]
) -> None:
    send(session, queue, "hello")

    running(queue).drain(timeout=10)

    (function, event), *_ = recorder.events
    record = event["Records"][0]
    assert function == "worker"
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == DEFAULT_REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert {"messageId", "receiptHandle", "md5OfBody"} <= set(record)


def test_a_batch_holds_up_to_batch_size_records(
    session: boto3.session.Session, queue: QueueResource, recorder: Recorder, running: Callable[..., Consumers]
) -> None:
    send(session, queue, *(str(n) for n in range(7)))

    running(queue).drain(timeout=10)

    assert sorted(recorder.bodies(), key=int) == [str(n) for n in range(7)]
    assert all(len(event["Records"]) <= queue.spec.batch_size for _, event in recorder.events)


def test_only_reported_failures_are_retried_and_then_dead_lettered(
    session: boto3.session.Session, queue: QueueResource, recorder: Recorder, running: Callable[..., Consumers]
) -> None:
    def fail_bad(event: dict[str, Any]) -> dict[str, Any]:
        failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": failures}

    recorder.behaviour = fail_bad
    send(session, queue, "good", "bad")

    running(queue).drain(timeout=40)

    assert recorder.bodies().count("good") == 1
    assert recorder.bodies().count("bad") == queue.spec.max_receive_count
    assert dead_letters(session, queue) == ["bad"]


def test_a_raising_consumer_deletes_nothing(
    session: boto3.session.Session, queue: QueueResource, recorder: Recorder, running: Callable[..., Consumers]
) -> None:
    def explode(event: dict[str, Any]) -> None:
        raise RuntimeError("consumer down")

    recorder.behaviour = explode
    send(session, queue, "a")

    running(queue).drain(timeout=40)

    assert recorder.bodies() == ["a"] * queue.spec.max_receive_count
    assert dead_letters(session, queue) == ["a"]


def test_a_topic_consumer_gets_each_notification_as_an_sns_event(
    session: boto3.session.Session, recorder: Recorder, running: Callable[..., Consumers]
) -> None:
    sns = session.client("sns")
    topic = TopicResource(
        TopicSpec("InboundTopic", "SAMTYKKE_INBOUND_TOPIC_ARN", "listener"),
        sns.create_topic(Name="inbound")["TopicArn"],
    )
    consumers = running(topic=topic)

    sns.publish(
        TopicArn=topic.arn,
        Message=json.dumps({"text": "STOP"}),
        Subject="inbound",
        MessageAttributes={"provider": {"DataType": "String", "StringValue": "sns"}},
    )
    consumers.drain(timeout=10)

    ((function, event),) = recorder.events
    (record,) = event["Records"]
    assert function == "listener"
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"].startswith(topic.arn)
    assert record["Sns"]["TopicArn"] == topic.arn
    assert record["Sns"]["Type"] == "Notification"
    assert record["Sns"]["Subject"] == "inbound"
    assert json.loads(record["Sns"]["Message"]) == {"text": "STOP"}
    assert record["Sns"]["MessageAttributes"] == {"provider": {"Type": "String", "Value": "sns"}}


def test_drain_times_out_while_a_consumer_is_stuck(
    session: boto3.session.Session, queue: QueueResource, recorder: Recorder, running: Callable[..., Consumers]
) -> None:
    release = threading.Event()
    recorder.behaviour = lambda _: release.wait(5)
    send(session, queue, "slow")
    consumers = running(queue)

    with pytest.raises(TimeoutError):
        consumers.drain(timeout=0.5)
    release.set()
    consumers.drain(timeout=10)
