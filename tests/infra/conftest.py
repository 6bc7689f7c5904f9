"""Synthesizes the CDK app once per session: the real stack, plus one built from synthetic specs.

The synthetic stack exercises what `samtykke.resources` does not declare yet (queues, topics, every grant,
a custom domain, an alarm e-mail), so the generic handling is tested before real specs arrive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner about Node 20's end of life on every import; it is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from samtykke import resources  # noqa: E402
from samtykke.resources import FunctionSpec, Grant, QueueSpec, TopicSpec  # noqa: E402

from infra.app import build  # noqa: E402
from infra.config import DeploymentConfig  # noqa: E402
from infra.specs import ResourceSpecs  # noqa: E402
from infra.stack import SamtykkeStack  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_STACK = "samtykke-eu-north-1"
SYNTHETIC_STACK = "samtykke-synthetic"

SYNTHETIC_SPECS = ResourceSpecs(
    queues=(
        QueueSpec(
            logical_id="CampaignQueue",
            env_var="SAMTYKKE_CAMPAIGN_QUEUE_URL",
            consumer="campaign_sender",
            max_receive_count=5,
            visibility_timeout_seconds=180,
            batch_size=10,
        ),
    ),
    topics=(
        TopicSpec(logical_id="InboundSmsTopic", env_var="SAMTYKKE_INBOUND_SMS_TOPIC_ARN", consumer="sms_inbound"),
        TopicSpec(logical_id="SesEventsTopic", env_var="SAMTYKKE_SES_EVENTS_TOPIC_ARN", consumer="ses_events"),
        TopicSpec(logical_id="AuditTopic", env_var="SAMTYKKE_AUDIT_TOPIC_ARN", consumer=None),
    ),
    functions=(
        *resources.FUNCTIONS,
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
    ),
)

SYNTHETIC_CONTEXT = {
    "domainName": "consent.example.org",
    "certificateArn": "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000",
    "alarmEmail": "ops@example.org",
    "senderEmail": "news@mail.example.org",
    "account": "111111111111",
    "reservedConcurrency": '{"campaign_sender": 20}',
}


@dataclass(frozen=True)
class Synth:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # by stack name, as written to cdk.out

    def template(self, stack: str) -> Template:
        return Template.from_json(self.templates[stack])


def cdk_json_context() -> dict[str, Any]:
    """The feature flags and defaults `cdk synth` would pass, so tests synthesize what the CLI would."""
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


def _handler_folders(root: Path, specs: ResourceSpecs) -> Path:
    for spec in specs.functions:
        folder = root / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "handler.py").write_text("def lambda_handler(event, context):\n    return None\n")
    return root


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=cdk_json_context())
    build(app, environ={})
    synthetic_config = DeploymentConfig.from_context(SYNTHETIC_CONTEXT.get, environ={})
    SamtykkeStack(
        app,
        SYNTHETIC_STACK,
        region="eu-west-1",
        config=synthetic_config,
        specs=SYNTHETIC_SPECS,
        functions_dir=_handler_folders(tmp_path_factory.mktemp("functions"), SYNTHETIC_SPECS),
    )
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    yield Synth(outdir=outdir, templates=templates)


@pytest.fixture(scope="session")
def real(synth: Synth) -> Template:
    return synth.template(REAL_STACK)


@pytest.fixture(scope="session")
def synthetic(synth: Synth) -> Template:
    return synth.template(SYNTHETIC_STACK)
