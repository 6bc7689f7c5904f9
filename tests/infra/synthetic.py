"""The synthetic specs and context the infra tests build a second stack from.

They exercise what `samtykke.resources` does not declare yet (queues, topics, every grant, a custom
domain, an alarm e-mail), so the generic handling is tested before the real specs arrive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.specs import ResourceSpecs
from samtykke import resources
from samtykke.resources import SES_PUBLISHER, SMS_PUBLISHER, FunctionSpec, Grant, QueueSpec, TopicSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_STACK = "samtykke-eu-north-1"
SYNTHETIC_STACK = "samtykke-synthetic"


_STAND_IN_FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="campaign_dispatch",
        description="Fans a campaign out onto the queue",
        grants=(Grant.TABLE_READ, Grant.CAMPAIGN_QUEUE_SEND),
    ),
    FunctionSpec(
        name="campaign_sender",
        description="Sends one batch of a campaign",
        grants=(Grant.TABLE_READ_WRITE, Grant.KMS_DECRYPT, Grant.SES_SEND, Grant.SMS_PUBLISH),
        timeout_seconds=30,
    ),
    FunctionSpec(name="sms_inbound", description="Inbound SMS", grants=(Grant.TABLE_READ_WRITE,)),
    FunctionSpec(name="ses_events", description="Bounces and complaints", grants=(Grant.TABLE_READ_WRITE,)),
    FunctionSpec(
        name="evidence_upload",
        description="Stores evidence",
        grants=(Grant.EVIDENCE_READ_WRITE,),
        environment={"EXTRA_SETTING": "1"},
    ),
)

SYNTHETIC_SPECS = ResourceSpecs(
    queues=(
        QueueSpec(
            logical_id="CampaignQueue",
            env_var="SAMTYKKE_CAMPAIGN_QUEUE_URL",
            consumer="campaign_sender",
            max_receive_count=5,
            visibility_timeout_seconds=180,
            batch_size=10,
            send_grant=Grant.CAMPAIGN_QUEUE_SEND,
        ),
    ),
    topics=(
        TopicSpec(
            logical_id="InboundSmsTopic",
            env_var="SAMTYKKE_INBOUND_SMS_TOPIC_ARN",
            consumer="sms_inbound",
            publisher=SMS_PUBLISHER,
        ),
        TopicSpec(
            logical_id="SesEventsTopic",
            env_var="SAMTYKKE_SES_EVENTS_TOPIC_ARN",
            consumer="ses_events",
            publisher=SES_PUBLISHER,
        ),
        TopicSpec(logical_id="AuditTopic", env_var="SAMTYKKE_AUDIT_TOPIC_ARN", consumer=None),
    ),
    functions=(
        *resources.FUNCTIONS,
        # Stand-ins for consumers that the real specs may not declare (yet); a real one of the same name wins.
        *(spec for spec in _STAND_IN_FUNCTIONS if spec.name not in {f.name for f in resources.FUNCTIONS}),
    ),
)

SYNTHETIC_CONTEXT = {
    "domainName": "consent.example.org",
    "certificateArn": "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000",
    "alarmEmail": "ops@example.org",
    "senderEmail": "news@mail.example.org",
    "account": "111111111111",
    "reservedConcurrency": '{"campaign_sender": 20}',
    "evidenceRetentionDays": "30",
}


def cdk_json_context() -> dict[str, Any]:
    """The feature flags and defaults `cdk synth` would pass, so tests synthesize what the CLI would."""
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])
