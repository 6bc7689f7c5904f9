"""The guardrails every synth passes: EU-only regions, consistent specs, cdk-nag, cfn-lint and checkov."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from typing import Any

import pytest
from aws_cdk import App

from infra.app import build
from infra.config import ConfigError, DeploymentConfig, RegionNotAllowedError
from infra.specs import ResourceSpecs, SpecError
from infra.stack import SamtykkeStack
from samtykke.resources import ROUTES, Grant, RouteSpec, ScheduleSpec
from tests.infra.conftest import Synth
from tests.infra.synthetic import REPO_ROOT, SYNTHETIC_SPECS, cdk_json_context

pytestmark = pytest.mark.infra

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
CFN_LINT = REPO_ROOT / ".venv-cfn-lint" / "bin" / "cfn-lint"

# Checkov findings we keep, by check id: (the resources it may fail on, as a regex on checkov's
# "Type.LogicalId", and why). Each one is also listed in the deploy page (docs/deploy.md). A new finding
# fails the test: fix it, or add it here and to docs/deploy.md with its reason.
ALLOWED_CHECKOV_FAILURES: dict[str, tuple[str, str]] = {
    "CKV_AWS_18": (
        r"^AWS::S3::Bucket\.EvidenceAccessLogs",
        "The access-log bucket itself: logging its own access would need yet another bucket.",
    ),
    "CKV_AWS_111": (
        r"^AWS::IAM::Policy\.Functions\w+SmsPublish",
        "SMS to a phone number is sns:Publish with no resource ARN; an explicit Deny covers every topic.",
    ),
    "CKV_AWS_115": (
        r"^AWS::Lambda::Function\.",
        "Reserved concurrency is opt-in per function through the reservedConcurrency context value.",
    ),
    "CKV_AWS_116": (
        r"^AWS::Lambda::Function\.",
        "Synchronously invoked (API Gateway, SQS event sources); the asynchronously invoked SNS consumers have DLQs.",
    ),
    "CKV_AWS_117": (
        r"^AWS::Lambda::Function\.",
        "No VPC: the functions only call AWS APIs over TLS with IAM; a VPC would add NAT or endpoints, not safety.",
    ),
    "CKV_AWS_173": (
        r"^AWS::Lambda::Function\.",
        "Environment variables hold only names, ARNs and URLs, no secrets; Lambda encrypts them at rest.",
    ),
}


class TestRegionGuard:
    def test_refuses_a_region_outside_the_eu_from_context(self) -> None:
        with pytest.raises(RegionNotAllowedError, match=r"EU regions.*'us-east-1'.*-c region=eu-north-1"):
            build(App(context={"region": "us-east-1"}), environ={})

    def test_refuses_a_non_eu_default_region_from_the_cli_environment(self) -> None:
        # Also what the CDK CLI passes on a machine with no AWS region configured at all.
        with pytest.raises(RegionNotAllowedError, match="'us-east-1' \\(from CDK_DEFAULT_REGION"):
            build(App(), environ={"CDK_DEFAULT_REGION": "us-east-1"})

    def test_refuses_if_any_of_several_regions_is_outside_the_eu(self) -> None:
        with pytest.raises(RegionNotAllowedError, match="us-west-2"):
            build(App(context={"regions": "eu-north-1,us-west-2"}), environ={})

    def test_the_stack_itself_refuses_a_non_eu_region(self) -> None:
        config = DeploymentConfig.from_context(lambda _: None, environ={})
        with pytest.raises(RegionNotAllowedError):
            SamtykkeStack(App(), "rogue", region="us-east-1", config=config)

    def test_context_region_wins_over_the_cli_environment(self) -> None:
        config = DeploymentConfig.from_context({"region": "eu-central-1"}.get, {"CDK_DEFAULT_REGION": "us-east-1"})
        assert config.regions == ("eu-central-1",)

    def test_defaults_to_stockholm(self) -> None:
        assert DeploymentConfig.from_context(lambda _: None, environ={}).regions == ("eu-north-1",)

    @pytest.mark.parametrize(
        "region", ["eu-north-1", "eu-central-1", "eu-west-1", "eu-west-3", "eu-south-1", "eu-south-2"]
    )
    def test_accepts_every_region_in_an_eu_member_state(self, region: str) -> None:
        assert DeploymentConfig.from_context({"region": region}.get, environ={}).regions == (region,)

    @pytest.mark.parametrize(("region", "country"), [("eu-west-2", "United Kingdom"), ("eu-central-2", "Switzerland")])
    def test_refuses_london_and_zurich_naming_the_allowed_regions_and_the_flag(self, region: str, country: str) -> None:
        with pytest.raises(RegionNotAllowedError) as refused:
            DeploymentConfig.from_context({"region": region}.get, environ={})
        message = str(refused.value)
        assert f"{region!r} is outside the EU/EEA" in message
        assert country in message
        assert "allow_adequacy_regions=true" in message
        assert "Allowed regions: eu-central-1, eu-north-1, eu-south-1, eu-south-2, eu-west-1, eu-west-3" in message
        with pytest.raises(RegionNotAllowedError):
            DeploymentConfig.from_context({"region": region, "allow_adequacy_regions": "false"}.get, environ={})
        with pytest.raises(RegionNotAllowedError):  # the stack refuses it too
            SamtykkeStack(App(), "uk", region=region, config=DeploymentConfig.from_context(lambda _: None, environ={}))

    @pytest.mark.parametrize("region", ["eu-west-2", "eu-central-2"])
    def test_an_explicit_flag_admits_the_adequacy_regions_and_nothing_else(self, region: str) -> None:
        context = {"regions": f"eu-north-1,{region}", "allow_adequacy_regions": "true"}
        config = DeploymentConfig.from_context(context.get, environ={})
        assert config.regions == ("eu-north-1", region)
        assert config.allow_adequacy_regions
        with pytest.raises(RegionNotAllowedError, match="'us-east-1'"):
            DeploymentConfig.from_context({**context, "regions": "us-east-1"}.get, environ={})


def test_one_stack_per_region_for_multi_region_residency() -> None:
    app = App(context={**cdk_json_context(), "regions": "eu-north-1, eu-central-1"})
    stacks = build(app, environ={"CDK_DEFAULT_ACCOUNT": "222222222222"})
    assert [(stack.stack_name, stack.region, stack.account) for stack in stacks] == [
        ("samtykke-eu-north-1", "eu-north-1", "222222222222"),
        ("samtykke-eu-central-1", "eu-central-1", "222222222222"),
    ]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"account": "12345"}, "12-digit"),
        ({"senderEmail": "not-an-address"}, "senderEmail"),
        ({"domainName": "consent.example.org"}, "both domainName and certificateArn"),
        ({"logRetention": "FOREVER"}, "logRetention"),
        ({"reservedConcurrency": "[1, 2]"}, "reservedConcurrency"),
        ({"evidenceRetentionDays": "0"}, "at least 1"),
    ],
)
def test_rejects_context_it_cannot_deploy_with(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DeploymentConfig.from_context(context.get, environ={})


def test_rejects_reserved_concurrency_for_an_undeclared_function() -> None:
    config = DeploymentConfig.from_context({"reservedConcurrency": '{"nope": 5}'}.get, environ={})
    with pytest.raises(ConfigError, match="nope"):
        SamtykkeStack(App(), "samtykke", region="eu-north-1", config=config)


class TestSpecValidation:
    def test_the_local_outbox_can_never_be_routed(self) -> None:
        outbox = RouteSpec("GET", "/_local/outbox", "admin_api", "public")
        with pytest.raises(SpecError, match="local stack"):
            ResourceSpecs(routes=(*ROUTES, outbox))

    def test_a_route_to_an_undeclared_function_is_refused(self) -> None:
        with pytest.raises(SpecError, match="ghost"):
            ResourceSpecs(routes=(RouteSpec("GET", "/x", "ghost", "public"),))

    def _with_queue_changed(self, **changes: Any) -> ResourceSpecs:
        first, *rest = SYNTHETIC_SPECS.queues
        return replace(SYNTHETIC_SPECS, queues=(replace(first, **changes), *rest))

    def test_a_queue_must_outlast_its_consumers_timeout(self) -> None:
        with pytest.raises(SpecError, match="visibility_timeout_seconds"):
            self._with_queue_changed(visibility_timeout_seconds=5)

    def test_a_queue_batch_is_bounded(self) -> None:
        with pytest.raises(SpecError, match="batch_size"):
            self._with_queue_changed(batch_size=11)

    def test_a_queue_grant_needs_its_queue(self) -> None:
        with pytest.raises(SpecError, match="campaign-queue"):
            replace(SYNTHETIC_SPECS, queues=(), bucket_notifications=(), event_bus=None).queue_for(
                Grant.CAMPAIGN_QUEUE_SEND
            )

    def test_a_bucket_notification_needs_its_queue(self) -> None:
        with pytest.raises(SpecError, match="names no declared queue"):
            replace(SYNTHETIC_SPECS, queues=())

    def test_a_schedule_needs_its_function(self) -> None:
        ghost = ScheduleSpec("Ghost", "ghost", "rate(1 hour)")
        with pytest.raises(SpecError, match="ghost"):
            replace(SYNTHETIC_SPECS, schedules=(ghost,))


def test_cdk_nag_leaves_no_unacknowledged_finding(synth: Synth) -> None:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    plugins = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    assert {"AwsSolutions", "Serverless"} <= set(plugins)
    for name, plugin in plugins.items():
        assert plugin["conclusion"] == "success", name
        assert plugin["violations"] == [], name
        for acknowledged in plugin.get("suppressedViolations", []):
            assert len(acknowledged["reason"]) > 40, acknowledged["acknowledgedId"]
            # Wildcard findings are acknowledged one by one, never for the whole rule.
            if acknowledged["ruleName"] == "AwsSolutions-IAM5":
                assert acknowledged["acknowledgedId"].endswith("]"), acknowledged["acknowledgedId"]


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    templates = sorted(str(path) for path in synth.outdir.glob("*.template.json"))
    if not CFN_LINT.exists():
        pytest.fail(f"{CFN_LINT} is missing: run `make install`, which puts cfn-lint in a venv of its own")
    result = subprocess.run([str(CFN_LINT), *templates], capture_output=True, text=True, check=False)
    # cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    assert result.returncode & 2 == 0, result.stdout
    warnings = set(re.findall(r"^(W\d+) ", result.stdout, flags=re.MULTILINE))
    # W3005 (a DependsOn that a Ref already implies) is how CDK writes roles and domain mappings.
    assert warnings <= {"W3005"}, result.stdout


def test_checkov_finds_nothing_beyond_the_documented_allow_list(synth: Synth) -> None:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make install`, which puts checkov in a venv of its own")
    command = [str(CHECKOV), "-d", str(synth.outdir), "--framework", "cloudformation", "--skip-download"]
    result = subprocess.run([*command, "--compact", "--quiet", "-o", "json"], capture_output=True, text=True)
    reports = json.loads(result.stdout)
    failed = [check for report in _as_list(reports) for check in report["results"]["failed_checks"]]
    unexpected = sorted(
        f"{check['check_id']} on {check['resource']} ({check['check_name']})"
        for check in failed
        if not _allowed(check["check_id"], check["resource"])
    )
    assert unexpected == [], "fix these, or allow-list them here and in docs/deploy.md with a reason"
    stale = set(ALLOWED_CHECKOV_FAILURES) - {check["check_id"] for check in failed}
    assert not stale, f"no longer failing, so drop them from the allow-list and docs/deploy.md: {sorted(stale)}"


def test_the_deploy_page_lists_every_allowed_checkov_finding() -> None:
    readme = (REPO_ROOT / "docs" / "deploy.md").read_text()
    deploy = readme.split("<!-- section:deploy -->", 1)[1].split("<!-- /section:deploy -->", 1)[0]
    assert [check for check in ALLOWED_CHECKOV_FAILURES if check not in deploy] == []


def _allowed(check_id: str, resource: str) -> bool:
    allowed = ALLOWED_CHECKOV_FAILURES.get(check_id)
    return allowed is not None and re.match(allowed[0], resource) is not None


def _as_list(reports: dict | list) -> list[dict]:
    return reports if isinstance(reports, list) else [reports]
