"""Configuration as one dataclass, read from the environment once per container.

A dataclass, not a model: every field is a string or an int read here, and the authorizer, which needs no other
model, would import pydantic for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from samtykke import environment


@dataclass
class Settings:
    table_name: str
    kms_key_id: str
    checkpoint_key_id: str = ""  # the asymmetric KMS key that signs checkpoints (services/evidence_log)
    evidence_bucket: str = ""
    public_base_url: str = ""
    sender_email: str = "no-reply@example.com"
    ses_configuration_set: str = ""
    stage: str = "aws"
    max_body_bytes: int = 64 * 1024
    event_bus_name: str = ""
    webhook_queue_url: str = ""
    webhook_dlq_url: str = ""
    webhook_retry: str = ""  # `base,cap,window` seconds; empty: the default (at least 24 h)
    sender_concurrency: int = 1  # campaign senders at once, sharing the SES account's rate


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        table_name=env.get(environment.ENV_TABLE, ""),
        kms_key_id=env.get(environment.ENV_KMS_KEY_ID, ""),
        checkpoint_key_id=env.get(environment.ENV_CHECKPOINT_KEY_ID, ""),
        evidence_bucket=env.get(environment.ENV_EVIDENCE_BUCKET, ""),
        public_base_url=env.get(environment.ENV_PUBLIC_BASE_URL, ""),
        sender_email=env.get(environment.ENV_SENDER_EMAIL) or "no-reply@example.com",
        ses_configuration_set=env.get(environment.ENV_SES_CONFIGURATION_SET, ""),
        stage=env.get(environment.ENV_STAGE, "aws"),
        event_bus_name=env.get(environment.ENV_EVENT_BUS_NAME, ""),
        webhook_queue_url=env.get(environment.ENV_WEBHOOK_QUEUE_URL, ""),
        webhook_dlq_url=env.get(environment.ENV_WEBHOOK_DLQ_URL, ""),
        webhook_retry=env.get(environment.ENV_WEBHOOK_RETRY, ""),
        sender_concurrency=int(env.get(environment.ENV_SENDER_CONCURRENCY) or 1),
    )
