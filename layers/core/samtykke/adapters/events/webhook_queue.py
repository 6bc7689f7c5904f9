"""The webhook queue: delivery attempts, each re-sent with a delay while its receiver fails; and its DLQ."""

from __future__ import annotations

import json
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors

MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds limit; longer waits are re-sent in steps (services/webhooks)
MAX_BATCH = 10


class WebhookQueue:
    def __init__(self, queue_url: str, dead_letter_url: str) -> None:
        self.queue_url = queue_url
        self.dead_letter_url = dead_letter_url

    def send(self, messages: list[dict[str, Any]], delay_seconds: int = 0) -> None:
        delay = max(0, min(MAX_DELAY_SECONDS, delay_seconds))
        for start in range(0, len(messages), MAX_BATCH):
            batch = messages[start : start + MAX_BATCH]
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(m, separators=(",", ":")), "DelaySeconds": delay}
                for i, m in enumerate(batch)
            ]
            with translate_aws_errors():
                result = aws.sqs().send_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            failed = result.get("Failed") or []
            if failed:
                # Retry once, one by one; an error here propagates and the caller's message is redelivered.
                for failure in failed:
                    entry = entries[int(failure["Id"])]
                    with translate_aws_errors():
                        aws.sqs().send_message(
                            QueueUrl=self.queue_url, MessageBody=str(entry["MessageBody"]), DelaySeconds=delay
                        )

    def send_dead(self, message: dict[str, Any]) -> None:
        with translate_aws_errors():
            aws.sqs().send_message(QueueUrl=self.dead_letter_url, MessageBody=json.dumps(message))
