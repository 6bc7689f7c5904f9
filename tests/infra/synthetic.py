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
from samtykke.resources import FunctionSpec, Grant, TopicSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_STACK = "samtykke-eu-north-1"
SYNTHETIC_STACK = "samtykke-synthetic"


# The real specs, plus what exercises the generic handling further: a topic nobody consumes, and a function
# with an environment of its own.
SYNTHETIC_SPECS = ResourceSpecs(
    topics=(*resources.TOPICS, TopicSpec(logical_id="AuditTopic", env_var="SAMTYKKE_AUDIT_TOPIC_ARN", consumer=None)),
    functions=(
        *resources.FUNCTIONS,
        FunctionSpec(
            name="evidence_upload",
            description="Stores evidence",
            grants=(Grant.EVIDENCE_READ_WRITE,),
            evidence_prefixes=("evidence/",),
            environment={"EXTRA_SETTING": "1"},
        ),
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
