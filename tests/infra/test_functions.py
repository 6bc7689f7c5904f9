"""Every function is built the same way, from its FunctionSpec, and may touch only what its grants name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.assets import dependency_layer_key
from infra.constructs.function import pascal_case
from infra.grants import GRANTS, SPEC_GRANTS, TABLE_ACTIONS
from infra.specs import ResourceSpecs
from infra.stack import BUCKET_NOTIFICATIONS_HANDLER
from samtykke.resources import (
    ENV_EVIDENCE_BUCKET,
    ENV_KMS_KEY_ID,
    ENV_PUBLIC_BASE_URL,
    ENV_SENDER_EMAIL,
    ENV_SES_CONFIGURATION_SET,
    ENV_STAGE,
    ENV_TABLE,
    Grant,
)
from tests.infra.conftest import Synth
from tests.infra.synthetic import SYNTHETIC_CONTEXT, SYNTHETIC_SPECS

pytestmark = pytest.mark.infra

# The only actions allowed on Resource "*", and why AWS requires it for each.
ACTIONS_ON_ANY_RESOURCE = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
    "sns:Publish": "SMS to a phone number has no ARN (only in a function's SmsPublish policy)",
    "dynamodb:ListStreams": "ListStreams has no resource-level permissions (the table stream's event source)",
    "ses:GetAccount": "GetAccount has no resource-level permissions (the campaign sender's send quota)",
}


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    """Our functions: every Lambda but CDK's own custom-resource handlers."""
    found = template.find_resources("AWS::Lambda::Function")
    return {logical_id: f for logical_id, f in found.items() if logical_id.startswith("Functions")}


def _function(template: Template, name: str) -> dict[str, Any]:
    functions = _functions(template)
    (function,) = (functions[i] for i in functions if i.startswith(f"Functions{pascal_case(name)}Function"))
    return function


def _policy_statements(template: Template, function_name: str) -> list[tuple[str, dict[str, Any]]]:
    policies = template.find_resources("AWS::IAM::Policy")
    prefix = f"Functions{pascal_case(function_name)}"
    return [
        (logical_id, statement)
        for logical_id, policy in policies.items()
        if logical_id.startswith(prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class TestEveryFunction:
    def test_one_function_per_spec(self, real: Template, synthetic: Template) -> None:
        assert len(_functions(real)) == len(ResourceSpecs().deployed_functions)
        assert len(_functions(synthetic)) == len(SYNTHETIC_SPECS.deployed_functions)

    def test_runs_python_on_arm64_with_active_tracing(self, real: Template, synthetic: Template) -> None:
        for template in (real, synthetic):
            for logical_id, function in _functions(template).items():
                props = function["Properties"]
                assert props["Runtime"] in ("python3.12", "python3.13"), logical_id
                assert props["Architectures"] == ["arm64"], logical_id
                assert props["TracingConfig"] == {"Mode": "Active"}, logical_id
                assert props["Handler"] == "handler.lambda_handler", logical_id
                assert props["LoggingConfig"]["LogFormat"] == "JSON", logical_id

    def test_memory_and_timeout_come_from_the_spec(self, synthetic: Template) -> None:
        for spec in SYNTHETIC_SPECS.functions:
            props = _function(synthetic, spec.name)["Properties"]
            assert (props["MemorySize"], props["Timeout"]) == (spec.memory_mb, spec.timeout_seconds), spec.name
            assert props["Description"] == spec.description

    def test_logs_to_its_own_encrypted_log_group_with_retention(self, real: Template) -> None:
        log_groups = real.find_resources("AWS::Logs::LogGroup")
        for logical_id, function in _functions(real).items():
            log_group = log_groups[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
            assert log_group["Properties"]["RetentionInDays"] == 90, logical_id
            assert log_group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("LogsKey"), logical_id

    def test_gets_both_layers(self, real: Template) -> None:
        layers = real.find_resources("AWS::Lambda::LayerVersion")
        assert len(layers) == 2
        for logical_id, function in _functions(real).items():
            assert sorted(layer["Ref"] for layer in function["Properties"]["Layers"]) == sorted(layers), logical_id

    def test_has_the_shared_environment(self, real: Template) -> None:
        for spec in ResourceSpecs().deployed_functions:
            environment = _function(real, spec.name)["Properties"]["Environment"]["Variables"]
            assert environment[ENV_TABLE]["Ref"].startswith("DataConsentTable")
            assert environment[ENV_KMS_KEY_ID] == {"Fn::GetAtt": [_logical_id(real, "DataFieldKey"), "Arn"]}
            assert environment[ENV_EVIDENCE_BUCKET]["Ref"].startswith("EvidenceBucket")
            assert environment[ENV_SES_CONFIGURATION_SET]["Ref"].startswith("MessagingConfigurationSet")
            assert environment[ENV_SENDER_EMAIL] == "no-reply@example.com"
            assert environment[ENV_STAGE] == "aws"
            assert environment["POWERTOOLS_SERVICE_NAME"] == spec.name
            assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "samtykke"
            assert environment["LOG_LEVEL"] == "INFO"

    def test_public_base_url_is_the_api_endpoint_without_a_cycle(self, real: Template) -> None:
        # It refers to the Api resource only; routes depend on functions, never the other way round.
        environment = _function(real, "consent_capture")["Properties"]["Environment"]["Variables"]
        assert environment[ENV_PUBLIC_BASE_URL] == {"Fn::GetAtt": [_logical_id(real, "HttpApi"), "ApiEndpoint"]}

    def test_public_base_url_is_the_custom_domain_when_there_is_one(self, synthetic: Template) -> None:
        environment = _function(synthetic, "consent_capture")["Properties"]["Environment"]["Variables"]
        assert environment[ENV_PUBLIC_BASE_URL] == f"https://{SYNTHETIC_CONTEXT['domainName']}"

    def test_spec_environment_is_added(self, synthetic: Template) -> None:
        environment = _function(synthetic, "evidence_upload")["Properties"]["Environment"]["Variables"]
        assert environment["EXTRA_SETTING"] == "1"

    def test_reserved_concurrency_comes_from_context(self, real: Template, synthetic: Template) -> None:
        assert _function(synthetic, "campaign_sender")["Properties"]["ReservedConcurrentExecutions"] == 20
        assert all("ReservedConcurrentExecutions" not in f["Properties"] for f in _functions(real).values())

    def test_topic_consumers_have_a_dead_letter_queue_for_async_failures(self, synthetic: Template) -> None:
        for topic in SYNTHETIC_SPECS.topics:
            if topic.consumer is None:
                continue
            target = _function(synthetic, topic.consumer)["Properties"]["DeadLetterConfig"]["TargetArn"]
            assert target["Fn::GetAtt"][0].startswith(f"Messaging{topic.logical_id}Dlq")
            # The DLQ is KMS-encrypted, and Lambda writes to it with the function's own role.
            statements = [s for _, s in _policy_statements(synthetic, topic.consumer)]
            assert any(
                "kms:GenerateDataKey*" in _as_list(s["Action"])
                and {"Fn::GetAtt": [_logical_id(synthetic, "MessagingKey"), "Arn"]} in _as_list(s["Resource"])
                for s in statements
            ), topic.consumer


class TestLeastPrivilege:
    def test_every_grant_has_a_mapping(self) -> None:
        assert set(GRANTS) | set(SPEC_GRANTS) | set(TABLE_ACTIONS) == set(Grant)
        assert not set(GRANTS) & set(TABLE_ACTIONS)
        assert not set(SPEC_GRANTS) & (set(GRANTS) | set(TABLE_ACTIONS))

    def test_no_wildcard_actions(self, real: Template, synthetic: Template) -> None:
        for template in (real, synthetic):
            for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    for action in _as_list(statement["Action"]):
                        assert action != "*", logical_id
                        assert not action.endswith(":*"), (logical_id, action)

    def test_resource_star_only_where_aws_requires_it(self, real: Template, synthetic: Template) -> None:
        for template in (real, synthetic):
            for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    if statement["Effect"] != "Allow" or "*" not in _as_list(statement["Resource"]):
                        continue
                    assert set(_as_list(statement["Action"])) <= set(ACTIONS_ON_ANY_RESOURCE), logical_id
                    if "sns:Publish" in _as_list(statement["Action"]):
                        assert "SmsPublish" in logical_id

    def test_sms_publish_cannot_reach_topics(self, synthetic: Template) -> None:
        statements = [s for policy, s in _policy_statements(synthetic, "campaign_sender") if "SmsPublish" in policy]
        assert {"Effect": "Deny", "Action": "sns:Publish", "Resource": "arn:*:sns:*:*:*"} in statements

    def test_a_function_without_grants_may_only_log_and_trace(self, real: Template) -> None:
        actions = {a for _, s in _policy_statements(real, "openapi") for a in _as_list(s["Action"])}
        assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", *_xray_actions()}

    def test_no_managed_policies(self, real: Template) -> None:
        for logical_id, role in real.find_resources("AWS::IAM::Role").items():
            if logical_id.startswith(BUCKET_NOTIFICATIONS_HANDLER):
                continue  # CDK's own deploy-time custom resource (acknowledged in cdk-nag, with the reason)
            assert "ManagedPolicyArns" not in role["Properties"], logical_id

    def test_read_only_grant_cannot_write(self, real: Template) -> None:
        actions = {a for _, s in _policy_statements(real, "authorizer") for a in _as_list(s["Action"])}
        assert "dynamodb:GetItem" in actions
        assert not {a for a in actions if re.match(r"dynamodb:(Put|Update|Delete|BatchWrite)", a)}
        assert not {a for a in actions if a.startswith("kms:") and a not in ("kms:Decrypt", "kms:DescribeKey")}

    def test_ses_send_is_scoped_to_the_identity_and_configuration_set(self, synthetic: Template) -> None:
        (statement,) = [
            s for _, s in _policy_statements(synthetic, "consent_capture") if "ses:SendEmail" in s["Action"]
        ]
        resources = _as_list(statement["Resource"])
        assert "arn:aws:ses:eu-west-1:111111111111:identity/mail.example.org" in resources
        assert "arn:aws:ses:eu-west-1:111111111111:identity/news@mail.example.org" in resources
        (configuration_set,) = [r for r in resources if isinstance(r, dict)]
        assert configuration_set["Fn::Join"][1][0].endswith(":configuration-set/")

    def test_campaign_sender_sends_in_bulk_through_its_own_templates_only(self, synthetic: Template) -> None:
        policies = _policy_statements(synthetic, "campaign_sender")
        statements = [s for _, s in policies]
        actions = {a for s in statements for a in _as_list(s["Action"]) if a.startswith("ses:")}
        assert actions == {"ses:SendBulkEmail", "ses:CreateEmailTemplate", "ses:GetAccount"}
        # GetAccount (the send quota it paces itself to) has no resource ARN: a policy of its own, allowing only it
        (quota_policy,) = {logical_id for logical_id, s in policies if s["Action"] == "ses:GetAccount"}
        assert [s for logical_id, s in policies if logical_id == quota_policy] == [
            {"Action": "ses:GetAccount", "Effect": "Allow", "Resource": "*"}
        ]
        (bulk,) = [s for s in statements if s["Action"] == "ses:SendBulkEmail"]
        resources = _as_list(bulk["Resource"])
        assert "arn:aws:ses:eu-west-1:111111111111:identity/news@mail.example.org" in resources
        (create,) = [s for s in statements if s["Action"] == "ses:CreateEmailTemplate"]
        assert create["Resource"] == "arn:aws:ses:eu-west-1:111111111111:template/samtykke-campaign-*"
        assert create["Resource"] in resources

    def test_queue_send_grant_sets_the_queue_url(self, synthetic: Template) -> None:
        (queue,) = [q for q in SYNTHETIC_SPECS.queues if q.send_grant is Grant.CAMPAIGN_QUEUE_SEND]
        environment = _function(synthetic, "campaign_dispatch")["Properties"]["Environment"]["Variables"]
        assert environment[queue.env_var]["Ref"].startswith(f"Messaging{queue.logical_id}")
        on_queue = [
            a
            for _, s in _policy_statements(synthetic, "campaign_dispatch")
            if f"Messaging{queue.logical_id}" in json.dumps(s["Resource"])
            and f"Messaging{queue.logical_id}Dlq" not in json.dumps(s["Resource"])
            for a in _as_list(s["Action"])
        ]
        assert "sqs:SendMessage" in on_queue
        assert "sqs:ReceiveMessage" not in on_queue
        # A function without the grant does not learn the URL (the sender holds it: it defers throttled chunks).
        without = _function(synthetic, "ses_events")["Properties"]["Environment"]["Variables"]
        assert queue.env_var not in without


class TestLayers:
    def _asset_dir(self, synth: Synth, template: Template, logical_id_prefix: str) -> Path:
        layers = template.find_resources("AWS::Lambda::LayerVersion")
        (layer,) = (layers[i] for i in layers if i.startswith(logical_id_prefix))
        asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
        return synth.outdir / f"asset.{asset_hash}"

    def test_core_layer_holds_the_samtykke_package_under_python(self, synth: Synth, real: Template) -> None:
        asset = self._asset_dir(synth, real, "LayersCore")
        assert (asset / "python" / "samtykke" / "resources.py").is_file()
        # Bytecode only for Lambda's interpreter (tests/infra/test_deployed_assets.py checks it in full).
        assert all(".cpython-313." in pyc.name for pyc in asset.rglob("*.pyc"))

    def test_dependency_layer_holds_arm64_wheels_without_boto(self, synth: Synth, real: Template) -> None:
        site = self._asset_dir(synth, real, "LayersDependencies") / "python"
        runtime_requirements = (
            "aws_lambda_powertools",
            "pydantic",
            "email_validator",
            "pyotp",
            "cryptography",
            "phonenumbers",
            "jinja2",
        )
        for package in runtime_requirements:
            assert (site / package).is_dir(), package
        assert list((site / "pydantic_core").glob("*cpython-313-aarch64-linux-gnu.so"))
        extensions = list(site.rglob("*.so"))
        assert extensions
        assert {path.name: _elf_machine(path) for path in extensions} == dict.fromkeys(
            (path.name for path in extensions), _ELF_AARCH64
        )
        for runtime_provided in ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath", "six"):
            assert not (site / runtime_provided).exists(), runtime_provided
            assert not (site / f"{runtime_provided}.py").exists(), runtime_provided

    def test_dependency_layer_is_cached_by_requirements_hash(self) -> None:
        cache = Path(__file__).resolve().parents[2] / ".build" / "deps-layer" / dependency_layer_key()
        assert (cache / "pydantic").is_dir()


def _logical_id(template: Template, prefix: str) -> str:
    matches = [i for i in template.to_json()["Resources"] if re.match(rf"^{prefix}[0-9A-F]{{8}}$", i)]
    assert len(matches) == 1, (prefix, matches)
    return matches[0]


_ELF_AARCH64 = 0xB7


def _elf_machine(path: Path) -> int:
    """The e_machine field of an ELF header: which CPU a shared library was built for."""
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def _xray_actions() -> set[str]:
    return {action for action in ACTIONS_ON_ANY_RESOURCE if action.startswith("xray:")}
