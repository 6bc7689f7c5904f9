"""The one declaration of samtykke's AWS resources, functions and routes.

The CDK app (`infra/`) and the local stack (`samtykke.local`) both build from these specs, so the
deployed stack and `samtykke local` cannot drift apart. Pure data: no boto3, no CDK imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

# Environment variable names shared by the CDK app, the local stack and `samtykke.settings`.
ENV_TABLE = "SAMTYKKE_TABLE"
ENV_KMS_KEY_ID = "SAMTYKKE_KMS_KEY_ID"
ENV_EVIDENCE_BUCKET = "SAMTYKKE_EVIDENCE_BUCKET"
ENV_PUBLIC_BASE_URL = "SAMTYKKE_PUBLIC_BASE_URL"
ENV_SENDER_EMAIL = "SAMTYKKE_SENDER_EMAIL"
ENV_SES_CONFIGURATION_SET = "SAMTYKKE_SES_CONFIGURATION_SET"
ENV_STAGE = "SAMTYKKE_STAGE"

EU_REGIONS: frozenset[str] = frozenset(
    {
        "eu-north-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-south-2",
    }
)
DEFAULT_REGION = "eu-north-1"


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: Literal["S", "N"] = "S"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    # Attributes projected besides the keys; an empty tuple means KEYS_ONLY.
    projected: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    env_var: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str


class Grant(StrEnum):
    """What a function may touch. infra maps each to a `grant_*` call on one resource."""

    TABLE_READ = "table:read"
    TABLE_READ_WRITE = "table:read-write"
    KMS_DECRYPT = "kms:decrypt"
    KMS_ENCRYPT_DECRYPT = "kms:encrypt-decrypt"  # includes GenerateDataKey
    EVIDENCE_READ_WRITE = "evidence:read-write"
    CAMPAIGN_QUEUE_SEND = "campaign-queue:send"
    SES_SEND = "ses:send"
    SMS_PUBLISH = "sms:publish"


SES_PUBLISHER = "ses.amazonaws.com"  # a configuration set's event destination
SMS_PUBLISHER = "sms-voice.amazonaws.com"  # AWS End User Messaging SMS two-way messages


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    env_var: str
    consumer: str
    max_receive_count: int
    visibility_timeout_seconds: int
    batch_size: int
    # The grant that lets a function send to this queue (e.g. Grant.CAMPAIGN_QUEUE_SEND), if any.
    send_grant: Grant | None = None


@dataclass(frozen=True)
class TopicSpec:
    logical_id: str
    env_var: str
    consumer: str | None
    # The AWS service principal allowed to publish (SES_PUBLISHER makes the topic the configuration set's
    # event destination), or None for topics only our own code publishes to.
    publisher: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # folder under functions/; the handler is functions/<name>/handler.lambda_handler
    description: str
    grants: tuple[Grant, ...]
    memory_mb: int = 512
    timeout_seconds: int = 10
    # Public, latency-sensitive paths skip the X-Ray SDK import (see FACTS: Tracer costs ~1.9x boto3).
    hot_path: bool = False
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteSpec:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY"]
    path: str  # API Gateway HTTP API syntax: {param} and a trailing {proxy+}
    function: str
    auth: Literal["public", "admin"]


TABLE = TableSpec(
    logical_id="ConsentTable",
    env_var=ENV_TABLE,
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    indexes=(
        # Sparse audience index: only consent-state items that are currently `granted` carry gsi1pk.
        IndexSpec(
            name="audience",
            partition_key=KeyAttribute("gsi1pk"),
            sort_key=KeyAttribute("gsi1sk"),
            projected=("contact_id", "event_id", "purpose", "channel"),
        ),
    ),
    ttl_attribute="expires_at",
)

QUEUES: tuple[QueueSpec, ...] = ()

TOPICS: tuple[TopicSpec, ...] = ()

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="consent_capture",
        description="Public consent capture from web forms, and double opt-in confirmation",
        grants=(Grant.TABLE_READ_WRITE, Grant.KMS_ENCRYPT_DECRYPT, Grant.SES_SEND),
        hot_path=True,
    ),
    FunctionSpec(
        name="admin_api",
        description="Tenant admin API",
        grants=(Grant.TABLE_READ_WRITE, Grant.KMS_ENCRYPT_DECRYPT),
        memory_mb=1024,
        timeout_seconds=29,
    ),
    FunctionSpec(
        name="authorizer",
        description="Lambda authorizer for the admin API: bearer API keys",
        grants=(Grant.TABLE_READ,),
        hot_path=True,
    ),
    FunctionSpec(
        name="openapi",
        description="Serves the OpenAPI document of every HTTP endpoint",
        grants=(),
    ),
)

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("POST", "/v1/public/{tenant_id}/consents", "consent_capture", "public"),
    RouteSpec("OPTIONS", "/v1/public/{tenant_id}/consents", "consent_capture", "public"),
    RouteSpec("GET", "/v1/public/confirm/{token}", "consent_capture", "public"),
    RouteSpec("GET", "/openapi.json", "openapi", "public"),
    RouteSpec("ANY", "/v1/admin/{proxy+}", "admin_api", "admin"),
)


def function_spec(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
