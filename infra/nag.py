"""cdk-nag on every synth, and the one way to acknowledge a finding: one rule, one construct, one reason.

cdk-nag 3 is a policy-validation plugin: an unacknowledged error makes synth raise `ValidationFailed`.
Acknowledgments are per finding (`AwsSolutions-IAM5[Resource::*]`), so nothing here can suppress a
whole rule for a whole stack.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

# CDK's KMS grants (grant_encrypt_decrypt, and the table, bucket and queue grants that include them) expand to
# these action families; each statement still names only this stack's own key ARNs.
_KMS_FAMILY_REASON = (
    "CDK's KMS grant expands to the kms:GenerateDataKey* and kms:ReEncrypt* action families; the statement "
    "names only this stack's own key ARNs."
)


def kms_family_findings() -> dict[str, str]:
    """The IAM5 findings (finding -> reason) that a CDK grant involving a KMS key produces."""
    return {f"Action::kms:{family}*": _KMS_FAMILY_REASON for family in ("GenerateDataKey", "ReEncrypt")}


def add_guardrails(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge `rule` (e.g. "AwsSolutions-IAM5") on `scope` and its children.

    `finding` narrows it to one finding of a multi-finding rule, e.g. "Resource::*".
    """
    pack = rule.split("-", 1)[0]
    rule_id = f"{pack}::{rule}" + (f"[{finding}]" if finding else "")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def arn_of(resource: IConstruct) -> str:
    """How cdk-nag spells a resource's ARN in a finding: `<LogicalId.Arn>`."""
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource")
    stack = Stack.of(cfn)
    return f"<{stack.resolve(stack.get_logical_id(cfn))}.Arn>"
