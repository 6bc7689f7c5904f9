"""The evidence queue (`EvidenceUploadQueue` in resources.py): the bucket's upload notifications, and requests to
delete governance-locked objects, both for evidence_check, the one function that holds the governance bypass."""

from __future__ import annotations

import json
import os

from botocore.exceptions import BotoCoreError, ClientError

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.domain.errors import RetryableError
from samtykke.environment import ENV_EVIDENCE_UPLOAD_QUEUE_URL

DELETION = "deletion"  # the message body's key for a deletion request; S3's notifications carry `Records`
CONTACT_FILES = "contact_files"  # an erased or expired contact's evidence files and exports
IMPORT_FILE = "import_file"  # a finished import's CSV


def request_contact_files_deletion(tenant_id: str, contact_id: str, *, reason: str) -> None:
    request_deletion({"kind": CONTACT_FILES, "tenant_id": tenant_id, "contact_id": contact_id, "reason": reason})


def request_import_file_deletion(tenant_id: str, import_id: str, *, reason: str) -> None:
    request_deletion({"kind": IMPORT_FILE, "tenant_id": tenant_id, "import_id": import_id, "reason": reason})


def request_deletion(request: dict[str, str]) -> None:
    """Queues a deletion request; evidence_check checks that the item it names allows it, then deletes."""
    url = os.environ.get(ENV_EVIDENCE_UPLOAD_QUEUE_URL)
    if not url:
        raise RetryableError("The evidence queue is not configured", code="evidence_queue_unavailable")
    try:
        with translate_aws_errors():
            aws.sqs().send_message(QueueUrl=url, MessageBody=json.dumps({DELETION: request}))
    except (ClientError, BotoCoreError) as exc:
        raise RetryableError(
            "The evidence queue could not be reached; retry", code="evidence_queue_unavailable"
        ) from exc
