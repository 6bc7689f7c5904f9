"""The import queue (`ImportQueue` in resources.py): one message per chunk of an import to process."""

from __future__ import annotations

import json
import os

from botocore.exceptions import BotoCoreError, ClientError

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.domain.errors import RetryableError
from samtykke.environment import ENV_IMPORT_QUEUE_URL


def enqueue_chunk(tenant_id: str, import_id: str, *, delay_seconds: int = 0) -> None:
    """Queues the import's next chunk, `delay_seconds` from now (at most 900, SQS's limit)."""
    url = os.environ.get(ENV_IMPORT_QUEUE_URL)
    if not url:
        raise RetryableError("The import queue is not configured", code="import_queue_unavailable")
    try:
        with translate_aws_errors():
            aws.sqs().send_message(
                QueueUrl=url,
                MessageBody=json.dumps({"tenant_id": tenant_id, "import_id": import_id}),
                DelaySeconds=min(max(delay_seconds, 0), 900),
            )
    except (ClientError, BotoCoreError) as exc:
        raise RetryableError("The import queue could not be reached; retry", code="import_queue_unavailable") from exc
