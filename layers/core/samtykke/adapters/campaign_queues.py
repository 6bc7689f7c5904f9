"""The campaign queues (`CampaignDispatchQueue` and `CampaignQueue` in resources.py).

The dispatch queue holds a campaign's position in its audience (one message per dispatch step); the campaign queue
holds chunks of recipients, sent with SendMessageBatch, 10 messages a call.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.domain.errors import RetryableError
from samtykke.environment import ENV_CAMPAIGN_DISPATCH_QUEUE_URL, ENV_CAMPAIGN_QUEUE_URL

SEND_BATCH_LIMIT = 10
ATTEMPTS = 4


def _url(env_var: str) -> str:
    url = os.environ.get(env_var)
    if not url:
        raise RetryableError("The campaign queue is not configured", code="campaign_queue_unavailable")
    return url


def enqueue_dispatch(position: dict[str, Any]) -> None:
    """Queues one dispatch step (a campaign and where in its audience to go on from)."""
    try:
        with translate_aws_errors():
            aws.sqs().send_message(
                QueueUrl=_url(ENV_CAMPAIGN_DISPATCH_QUEUE_URL), MessageBody=json.dumps(position, separators=(",", ":"))
            )
    except (ClientError, BotoCoreError) as exc:
        raise RetryableError(
            "The campaign queue could not be reached; retry", code="campaign_queue_unavailable"
        ) from exc


def defer_chunk(body: dict[str, Any], delay_seconds: int) -> None:
    """Queues a chunk again, `delay_seconds` from now (at most 900): a fresh message, with its receives ahead of it."""
    with translate_aws_errors():
        aws.sqs().send_message(
            QueueUrl=_url(ENV_CAMPAIGN_QUEUE_URL),
            MessageBody=json.dumps(body, separators=(",", ":")),
            DelaySeconds=min(max(delay_seconds, 0), 900),
        )


def enqueue_chunks(bodies: list[dict[str, Any]]) -> int:
    """Queues recipient chunks with SendMessageBatch, 10 a call, retrying entries SQS reports failed.

    Returns the number of calls made. A chunk queued twice (a retried call) is harmless: the sender claims each
    (campaign, contact) once.
    """
    url = _url(ENV_CAMPAIGN_QUEUE_URL)
    calls = 0
    for start in range(0, len(bodies), SEND_BATCH_LIMIT):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":"))}
            for i, body in enumerate(bodies[start : start + SEND_BATCH_LIMIT])
        ]
        for attempt in range(ATTEMPTS):
            try:
                with translate_aws_errors():
                    result = aws.sqs().send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as exc:
                raise RetryableError(
                    "The campaign queue could not be reached; retry", code="campaign_queue_unavailable"
                ) from exc
            calls += 1
            failed = {failure["Id"] for failure in result.get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in failed]
            if not entries:
                break
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not crypto
        else:
            raise RetryableError("SQS refused part of a batch; retry", code="campaign_queue_unavailable")
    return calls
