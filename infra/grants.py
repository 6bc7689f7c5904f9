"""Each `Grant` of a FunctionSpec becomes one `grant_*` call on one resource.

CDK's grant methods expand to action families (`kms:GenerateDataKey*`, `s3:GetObject*`) and to a table's
index ARNs. cdk-nag reports each such wildcard; each is acknowledged here, on that function's role only,
next to the grant that causes it, with the reason it stays within the one resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from infra.nag import acknowledge, arn_of, kms_family_findings
from infra.specs import ResourceSpecs
from samtykke.domain.uploads import CHECKPOINTS_PREFIX, EVIDENCE_PREFIX, EXPORTS_PREFIX, IMPORTS_PREFIX
from samtykke.resources import ENV_CHECKPOINT_KEY_ID, ENV_WEBHOOK_DLQ_URL, EVENT_BUS, FunctionSpec, Grant, TableKeys

_S3_FAMILY = "CDK's grant_read_write expands to this S3 action family; the statement names only the evidence bucket."
_TABLE_INDEXES = "Queries on the table's own global secondary indexes; the wildcard stays under this one table's ARN."
_BUCKET_OBJECTS = "Objects of the evidence bucket; the wildcard stays under this one bucket's ARN."
_SES_ACCOUNT_READ = (
    "SES GetAccount reads the account's send quota, which the campaign sender paces itself to; the action has no "
    "resource ARN, so AWS requires Resource '*'. The policy allows that one read action and nothing else."
)
# What the governance bypass may delete or re-date: evidence files, import CSVs, DSAR exports; never audit exports or
# checkpoints (compliance mode, which no bypass lifts, but not this role's business either).
BYPASS_PREFIXES = (EVIDENCE_PREFIX, IMPORTS_PREFIX, EXPORTS_PREFIX)
_PREFIX_OBJECTS = "Objects under one key prefix of the evidence bucket that this function's job writes or reads."
_SMS_TO_PHONE_NUMBERS = (
    "SNS Publish to a phone number (SMS) has no resource ARN, so AWS requires Resource '*'. An explicit Deny on "
    "every topic ARN in the same policy keeps it from publishing to any topic."
)


@dataclass(frozen=True)
class GrantTargets:
    """The resources grants point at."""

    specs: ResourceSpecs
    table: dynamodb.Table
    field_key: kms.IKey
    evidence_bucket: s3.IBucket
    evidence_key: kms.IKey  # the evidence bucket's encryption key
    checkpoint_key: kms.IKey  # the asymmetric key that signs checkpoints
    queues: Mapping[str, sqs.IQueue]  # by QueueSpec.logical_id
    ses_send_resources: Sequence[str]  # the sending identities' and the configuration set's ARNs
    event_bus: events.IEventBus | None = None
    dead_letter_queues: Mapping[str, sqs.IQueue] | None = None  # by the logical id of the queue they serve


Findings = dict[str, str]  # cdk-nag IAM5 finding -> reason
CAMPAIGN_TEMPLATES = "samtykke-campaign-*"  # adapters/campaign_senders.TEMPLATES
_GrantFn = Callable[[lambda_.Function, GrantTargets, Grant], Findings]


def _table_indexes(table: dynamodb.Table) -> Findings:
    return {f"Resource::{arn_of(table)}/index/*": _TABLE_INDEXES}


def _table_read(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    targets.table.grant_read_data(function)
    return _table_indexes(targets.table)


def _table_read_write(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    targets.table.grant_read_write_data(function)
    return {**_table_indexes(targets.table), **kms_family_findings()}


def _kms_decrypt(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    targets.field_key.grant_decrypt(function)
    return {}


def _kms_encrypt_decrypt(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    targets.field_key.grant_encrypt_decrypt(function)
    return kms_family_findings()


def _evidence_read_write(function: lambda_.Function, spec: FunctionSpec, targets: GrantTargets) -> Findings:
    # Only under the function's own key prefixes (domain/uploads.py), never the whole bucket.
    if not spec.evidence_prefixes:
        raise ValueError(f"{spec.name} has evidence:read-write without evidence_prefixes")
    findings: Findings = {}
    for prefix in spec.evidence_prefixes:
        targets.evidence_bucket.grant_read_write(function, f"{prefix}*")
        findings[f"Resource::{arn_of(targets.evidence_bucket)}/{prefix}*"] = _PREFIX_OBJECTS
    s3_families = ("GetObject", "GetBucket", "List", "DeleteObject", "Abort")
    return {**{f"Action::s3:{family}*": _S3_FAMILY for family in s3_families}, **findings, **kms_family_findings()}


def _queue_send(function: lambda_.Function, targets: GrantTargets, grant: Grant) -> Findings:
    queue_spec = targets.specs.queue_for(grant)
    queue = targets.queues[queue_spec.logical_id]
    queue.grant_send_messages(function)
    function.add_environment(queue_spec.env_var, queue.queue_url)
    return kms_family_findings()


def _evidence_bypass_governance(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    # evidence_check's alone (tests/infra/test_least_privilege.py): rejected uploads, and erasure's, expiry's and
    # imports' deletions, must go although Object Lock (governance mode) still retains them, and the checker sets
    # each object's retention. Only on the evidence bucket's objects, never its configuration.
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=[
                "s3:BypassGovernanceRetention",
                "s3:PutObjectRetention",
                "s3:DeleteObjectVersion",
                "s3:GetObjectVersion",
            ],
            resources=[targets.evidence_bucket.arn_for_objects(f"{prefix}*") for prefix in BYPASS_PREFIXES],
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:ListBucketVersions"], resources=[targets.evidence_bucket.bucket_arn])
    )
    return {f"Resource::{arn_of(targets.evidence_bucket)}/{prefix}*": _PREFIX_OBJECTS for prefix in BYPASS_PREFIXES}


_CHECKPOINT_OBJECTS = "Signed checkpoints, one object each, under the evidence bucket's checkpoints/ prefix only."


def _checkpoint_access(function: lambda_.Function, targets: GrantTargets, sign: bool) -> Findings:
    objects = targets.evidence_bucket.arn_for_objects(f"{CHECKPOINTS_PREFIX}*")
    key_actions = ["kms:GetPublicKey", *(["kms:Sign"] if sign else [])]
    s3_actions = ["s3:GetObject", *(["s3:PutObject", "s3:PutObjectRetention"] if sign else [])]
    bucket_key_actions = ["kms:Decrypt", *(["kms:GenerateDataKey"] if sign else [])]
    function.add_to_role_policy(iam.PolicyStatement(actions=key_actions, resources=[targets.checkpoint_key.key_arn]))
    function.add_to_role_policy(iam.PolicyStatement(actions=s3_actions, resources=[objects]))
    function.add_to_role_policy(
        iam.PolicyStatement(actions=bucket_key_actions, resources=[targets.evidence_key.key_arn])
    )
    function.add_environment(ENV_CHECKPOINT_KEY_ID, targets.checkpoint_key.key_arn)
    return {f"Resource::{arn_of(targets.evidence_bucket)}/{CHECKPOINTS_PREFIX}*": _CHECKPOINT_OBJECTS}


def _checkpoint_sign(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    return _checkpoint_access(function, targets, sign=True)


def _checkpoint_read(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    return _checkpoint_access(function, targets, sign=False)


def _ses_send(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    # Raw MIME sends (for the RFC 8058 List-Unsubscribe headers), only as the configured identity and only
    # through the configuration set that publishes bounces and complaints.
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["ses:SendEmail", "ses:SendRawEmail"], resources=list(targets.ses_send_resources))
    )
    return {}


def _ses_bulk_send(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    # SendBulkEmail through the campaign templates (adapters/campaign_senders.TEMPLATES), which the sender creates
    # once; as the configured identity, through the configuration set.
    stack = Stack.of(function)
    templates = stack.format_arn(service="ses", resource="template", resource_name=CAMPAIGN_TEMPLATES)
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["ses:SendBulkEmail"], resources=[*targets.ses_send_resources, templates])
    )
    function.add_to_role_policy(iam.PolicyStatement(actions=["ses:CreateEmailTemplate"], resources=[templates]))
    quota = iam.Policy(
        function,
        "SesAccountRead",
        roles=[_role_of(function)],
        statements=[iam.PolicyStatement(actions=["ses:GetAccount"], resources=["*"])],
    )
    acknowledge(quota, "AwsSolutions-IAM5", _SES_ACCOUNT_READ, finding="Resource::*")
    # How cdk-nag spells that ARN: the stack's region and partition resolved, an environment-agnostic account not.
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    finding = f"Resource::arn:{stack.partition}:ses:{stack.region}:{account}:template/{CAMPAIGN_TEMPLATES}"
    return {finding: "The campaign sender's own templates, one per content kind and version, under one name prefix."}


def _sms_publish(function: lambda_.Function, _targets: GrantTargets, _: Grant) -> Findings:
    # A policy of its own, so its one acknowledged '*' cannot cover anything else.
    policy = iam.Policy(
        function,
        "SmsPublish",
        roles=[_role_of(function)],
        statements=[
            iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]),
            iam.PolicyStatement(effect=iam.Effect.DENY, actions=["sns:Publish"], resources=["arn:*:sns:*:*:*"]),
        ],
    )
    acknowledge(policy, "AwsSolutions-IAM5", _SMS_TO_PHONE_NUMBERS, finding="Resource::*")
    return {}


def _events_put(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    if targets.event_bus is None:
        raise ValueError("events:put needs the stack's event bus")
    targets.event_bus.grant_put_events_to(function)
    function.add_environment(EVENT_BUS.env_var, targets.event_bus.event_bus_name)
    return {}


def _webhook_dlq_send(function: lambda_.Function, targets: GrantTargets, _: Grant) -> Findings:
    queue = (targets.dead_letter_queues or {})[EVENT_BUS.webhook_queue]
    queue.grant_send_messages(function)
    function.add_environment(ENV_WEBHOOK_DLQ_URL, queue.queue_url)
    return kms_family_findings()


GRANTS: Mapping[Grant, _GrantFn] = {
    Grant.TABLE_READ: _table_read,
    Grant.TABLE_READ_WRITE: _table_read_write,
    Grant.KMS_DECRYPT: _kms_decrypt,
    Grant.KMS_ENCRYPT_DECRYPT: _kms_encrypt_decrypt,
    Grant.CAMPAIGN_QUEUE_SEND: _queue_send,
    Grant.CAMPAIGN_DISPATCH_QUEUE_SEND: _queue_send,
    Grant.IMPORT_QUEUE_SEND: _queue_send,
    Grant.EVIDENCE_BYPASS_GOVERNANCE: _evidence_bypass_governance,
    Grant.SES_SEND: _ses_send,
    Grant.SES_BULK_SEND: _ses_bulk_send,
    Grant.SMS_PUBLISH: _sms_publish,
    Grant.CHECKPOINT_SIGN: _checkpoint_sign,
    Grant.CHECKPOINT_READ: _checkpoint_read,
    Grant.EVENTS_PUT: _events_put,
    Grant.WEBHOOK_QUEUE_SEND: _queue_send,
    Grant.EVIDENCE_QUEUE_SEND: _queue_send,
    Grant.WEBHOOK_DLQ_SEND: _webhook_dlq_send,
}


# Grants that take the function's spec: evidence objects only under its `evidence_prefixes`.
SPEC_GRANTS: Mapping[Grant, Callable[[lambda_.Function, FunctionSpec, GrantTargets], Findings]] = {
    Grant.EVIDENCE_READ_WRITE: _evidence_read_write,
}


# The fine table grants: each is these actions on the table's items, limited to the function's `table_keys`.
TABLE_ACTIONS: Mapping[Grant, tuple[str, ...]] = {
    Grant.TABLE_GET: ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"),
    Grant.TABLE_QUERY: ("dynamodb:Query",),
    Grant.TABLE_WRITE: ("dynamodb:PutItem", "dynamodb:UpdateItem"),
    Grant.TABLE_BATCH_WRITE: ("dynamodb:BatchWriteItem",),
    Grant.TABLE_DELETE: ("dynamodb:DeleteItem",),
    Grant.TABLE_INDEX_QUERY: ("dynamodb:Query",),  # on the indexes, not the table
}
# Every item-level action DynamoDB has: what a `deny` in TableKeys refuses.
_ITEM_ACTIONS = sorted(
    {a for actions in TABLE_ACTIONS.values() for a in actions}
    | {"dynamodb:Scan", "dynamodb:PartiQLSelect"}
    | {"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}
)
_READS = frozenset({Grant.TABLE_GET, Grant.TABLE_QUERY, Grant.TABLE_INDEX_QUERY})
_WRITES = frozenset({Grant.TABLE_WRITE, Grant.TABLE_BATCH_WRITE})  # limited to TableKeys.write where it is set


def _leading_keys(patterns: Sequence[str], operator: str = "ForAllValues:StringLike") -> dict[str, Any] | None:
    return {operator: {"dynamodb:LeadingKeys": list(patterns)}} if patterns else None


def _fine_table_access(function: lambda_.Function, spec: FunctionSpec, targets: GrantTargets) -> Findings:
    grants = [g for g in spec.grants if g in TABLE_ACTIONS]
    if not grants:
        return {}
    keys: TableKeys = spec.table_keys
    table_arn = targets.table.table_arn
    on_items = [g for g in grants if g not in (Grant.TABLE_DELETE, Grant.TABLE_INDEX_QUERY)]
    writes = [g for g in on_items if g in _WRITES] if keys.write else []
    statements = []
    for group, patterns in ((set(on_items) - set(writes), keys.allow), (set(writes), keys.write)):
        if group:
            actions = sorted({a for g in group for a in TABLE_ACTIONS[g]})
            statements.append(
                iam.PolicyStatement(actions=actions, resources=[table_arn], conditions=_leading_keys(patterns))
            )
    if Grant.TABLE_DELETE in grants:
        statements.append(
            iam.PolicyStatement(
                actions=list(TABLE_ACTIONS[Grant.TABLE_DELETE]),
                resources=[table_arn],
                conditions=_leading_keys(keys.delete or keys.allow),
            )
        )
    findings: Findings = {}
    if Grant.TABLE_INDEX_QUERY in grants:
        statements.append(iam.PolicyStatement(actions=["dynamodb:Query"], resources=[f"{table_arn}/index/*"]))
        findings.update(_table_indexes(targets.table))
    if keys.deny:
        statements.append(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=_ITEM_ACTIONS,
                resources=[table_arn],
                conditions=_leading_keys(keys.deny, "ForAnyValue:StringLike"),
            )
        )
    for statement in statements:
        function.add_to_role_policy(statement)
    # The table is encrypted with its own key: reads decrypt, writes also make data keys.
    table_key = targets.table.encryption_key
    if table_key is not None:
        if set(grants) <= _READS:
            table_key.grant_decrypt(function)
        else:
            table_key.grant_encrypt_decrypt(function)
            findings.update(kms_family_findings())
    return findings


def apply_grants(function: lambda_.Function, spec: FunctionSpec, targets: GrantTargets) -> None:
    findings: Findings = _fine_table_access(function, spec, targets)
    for grant in spec.grants:
        if grant in TABLE_ACTIONS:
            continue
        if grant in SPEC_GRANTS:
            findings.update(SPEC_GRANTS[grant](function, spec, targets))
            continue
        if grant not in GRANTS:
            raise NotImplementedError(f"infra/grants.py has no mapping for {grant!r} (function {spec.name})")
        findings.update(GRANTS[grant](function, targets, grant))
    for finding, reason in sorted(findings.items()):
        acknowledge(_role_of(function), "AwsSolutions-IAM5", reason, finding=finding)


def _role_of(function: lambda_.Function) -> iam.IRole:
    if function.role is None:
        raise ValueError(f"{function.node.path} has no role to grant to")
    return function.role
