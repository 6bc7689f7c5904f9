"""Issue 20: each function's DynamoDB actions and key prefixes, read from the synthesized policies."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.function import pascal_case
from infra.specs import ResourceSpecs
from samtykke.resources import ADMIN_KEYS, AUDIT_KEYS, AUDIT_MONTHS, OPERATOR_KEYS, TABLE_STREAM

pytestmark = pytest.mark.infra

GET = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"}
QUERY = {"dynamodb:Query"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem"}
LEDGER = GET | QUERY | WRITE
BATCH = {"dynamodb:BatchWriteItem"}
DELETE = {"dynamodb:DeleteItem"}
# The table stream's event source mapping reads the stream with its consumer's role.
STREAM = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

# What each deployed function (the admin routers split off admin_api included) may do to the table's items, index
# queries apart, and nothing more.
EXPECTED_ITEM_ACTIONS: dict[str, set[str]] = {
    "consent_capture": LEDGER,
    "unsubscribe": LEDGER,
    "sms_webhooks": LEDGER,
    "sms_inbound": LEDGER,
    "authorizer": GET | QUERY,
    "auth": LEDGER | DELETE,
    "admin_api": LEDGER | DELETE,  # its kept routers: the evidence audit and governance (do-not-contact deletes)
    "admin_catalog": LEDGER,
    "admin_contacts": LEDGER,
    "admin_staff": LEDGER | DELETE,
    "admin_rights": LEDGER | BATCH,
    "admin_campaigns": LEDGER | DELETE,
    "links_admin": LEDGER,
    "sms_admin": LEDGER | DELETE,
    "evidence_check": LEDGER,
    "import_processor": LEDGER | BATCH,
    "retention_sweeper": LEDGER | BATCH | DELETE,
    "campaign_dispatch": LEDGER,
    "campaign_sender": LEDGER | BATCH,
    "ses_events": LEDGER,
    "openapi": set(),
    "operator_api": LEDGER,
    "console": LEDGER | BATCH | DELETE,
    "campaign_reconciler": GET | WRITE,
    "change_publisher": BATCH,
    "webhook_delivery": LEDGER,
    "events_admin": LEDGER | DELETE,
    "checkpoint_writer": GET | WRITE | BATCH,
    "evidence_public": GET | QUERY,
    "audit_export": GET | QUERY,
}
INDEX_QUERIES = {
    "admin_api",
    "admin_catalog",
    "admin_contacts",
    "admin_staff",
    "admin_rights",
    "admin_campaigns",
    "retention_sweeper",
    "campaign_dispatch",
    "console",
    "campaign_reconciler",
    "checkpoint_writer",
}
# Each function's writes (Put, Update, BatchWrite), where they are narrower than what it reads.
EXPECTED_WRITE_KEYS: dict[str, set[str]] = {
    "campaign_reconciler": {"T#*#CAMPAIGN#*"},
    "webhook_delivery": {"T#*#WEBHOOKS", "T#*#WHD#*"},
    "events_admin": {"T#*#WEBHOOKS", "T#*#WHD#*", *AUDIT_KEYS},
}
# Functions that face the internet (a public route) or untrusted input (an SMS), other than staff login itself.
PUBLIC_DATA_PATHS = {"consent_capture", "unsubscribe", "sms_webhooks", "sms_inbound", "evidence_public"}
# Functions that record audit entries: a month's first entry also lists the tenant under AUDITMONTH#.
AUDIT_WRITERS = {
    "auth",
    "admin_api",
    "admin_catalog",
    "admin_contacts",
    "admin_staff",
    "admin_rights",
    "admin_campaigns",
    "links_admin",
    "sms_admin",
    "import_processor",
    "console",
    "events_admin",
}
# The evidence bucket's key prefixes each function may read and write objects under (EVIDENCE_READ_WRITE).
EXPECTED_EVIDENCE_PREFIXES: dict[str, set[str]] = {
    "admin_api": {"audit/"},  # governance: monthly audit exports
    "admin_rights": {"evidence/", "imports/", "exports/"},
    "console": {"evidence/", "imports/", "exports/"},
    "evidence_check": {"evidence/"},
    "import_processor": {"imports/"},
    "audit_export": {"audit/"},
}
DEPLOYED = {spec.name for spec in ResourceSpecs().deployed_functions}


def _statements(template: Template, function: str) -> list[dict[str, Any]]:
    # Its role's default policy and its own policies (SmsPublish); not another function's whose name extends it.
    prefixes = tuple(f"Functions{pascal_case(function)}{part}" for part in ("Role", "SmsPublish"))
    return [
        statement
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if logical_id.startswith(prefixes)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


def _table_actions(statement: dict[str, Any]) -> set[str]:
    return {a for a in _actions(statement) if a.startswith("dynamodb:")} - STREAM


def _is_index(statement: dict[str, Any]) -> bool:
    return "/index/" in str(statement["Resource"])


def _dynamodb(template: Template, function: str, effect: str = "Allow") -> list[dict[str, Any]]:
    return [
        s
        for s in _statements(template, function)
        if s["Effect"] == effect and any(a.startswith("dynamodb:") for a in _actions(s))
    ]


def _leading(statement: dict[str, Any], operator: str = "ForAllValues:StringLike") -> set[str]:
    return set(statement.get("Condition", {}).get(operator, {}).get("dynamodb:LeadingKeys", []))


def test_every_deployed_function_is_in_the_table() -> None:
    assert set(EXPECTED_ITEM_ACTIONS) == DEPLOYED


@pytest.mark.parametrize("function", sorted(DEPLOYED))
def test_every_item_statement_is_limited_to_named_key_prefixes(real: Template, function: str) -> None:
    # A function added without `table_keys` reaches any key: this fails until its prefixes are declared.
    for statement in _dynamodb(real, function):
        if not _is_index(statement) and _table_actions(statement):
            assert _leading(statement), (function, statement)


@pytest.mark.parametrize("function", sorted(EXPECTED_WRITE_KEYS))
def test_writes_reach_only_the_partitions_the_function_writes(real: Template, function: str) -> None:
    writes = [s for s in _dynamodb(real, function) if _table_actions(s) & (WRITE | BATCH)]
    assert writes
    for statement in writes:
        assert not _table_actions(statement) & (GET | QUERY)
        assert _leading(statement) == EXPECTED_WRITE_KEYS[function]


@pytest.mark.parametrize("function", sorted(AUDIT_WRITERS))
def test_audit_writers_may_list_the_tenant_for_the_months_export(real: Template, function: str) -> None:
    puts = [s for s in _dynamodb(real, function) if "dynamodb:PutItem" in _actions(s)]
    assert any(AUDIT_MONTHS in _leading(s) for s in puts), function


@pytest.mark.parametrize("function", sorted(DEPLOYED))
def test_evidence_objects_only_under_the_functions_own_prefixes(real: Template, function: str) -> None:
    bucket_objects = []
    for statement in _statements(real, function):
        if statement["Effect"] != "Allow" or not any(a.startswith("s3:") for a in _actions(statement)):
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            if isinstance(resource, dict) and "Fn::Join" in resource:
                suffix = resource["Fn::Join"][1][-1]
                if (
                    isinstance(suffix, str)
                    and suffix.startswith("/")
                    and "s3:BypassGovernanceRetention" not in (_actions(statement))
                ):
                    bucket_objects.append(suffix.removeprefix("/"))
    prefixes = {p.removesuffix("*") for p in bucket_objects} - {"checkpoints/"}  # CHECKPOINT_SIGN/READ
    assert "" not in prefixes, (function, "the whole bucket")
    assert prefixes == EXPECTED_EVIDENCE_PREFIXES.get(function, set())


@pytest.mark.parametrize("function", sorted(DEPLOYED))
def test_each_function_gets_exactly_the_item_actions_it_uses(real: Template, function: str) -> None:
    allowed = _dynamodb(real, function)
    on_items = {a for s in allowed if not _is_index(s) for a in _table_actions(s)}
    assert on_items == EXPECTED_ITEM_ACTIONS[function]
    on_indexes = {a for s in allowed if _is_index(s) for a in _table_actions(s)}
    assert on_indexes == ({"dynamodb:Query"} if function in INDEX_QUERIES else set())
    stream = {a for s in allowed for a in _actions(s) & STREAM}
    assert stream == (STREAM if function == TABLE_STREAM.consumer else set())


@pytest.mark.parametrize("function", sorted(DEPLOYED))
def test_no_function_may_scan_or_use_partiql(real: Template, function: str) -> None:
    for statement in _dynamodb(real, function):
        assert not {a for a in _actions(statement) if a == "dynamodb:Scan" or a.startswith("dynamodb:PartiQL")}


@pytest.mark.parametrize("function", sorted(PUBLIC_DATA_PATHS))
def test_public_paths_reach_only_tenant_keys_and_never_admin_items(real: Template, function: str) -> None:
    allowed = _dynamodb(real, function)
    assert allowed
    for statement in allowed:
        assert not _actions(statement) & DELETE
        patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        assert all(p.startswith(("T#", "RL#", "SMSNUMBER#")) or p == "CHECKPOINT" for p in patterns), patterns
    (deny,) = _dynamodb(real, function, "Deny")
    assert set(deny["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"]) == set(ADMIN_KEYS)
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= _actions(deny)


@pytest.mark.parametrize("function", sorted(set(EXPECTED_ITEM_ACTIONS) - {"operator_api", "openapi"}))
def test_only_the_operator_api_reaches_the_operator_keys(real: Template, function: str) -> None:
    denied = {
        p
        for s in _dynamodb(real, function, "Deny")
        for p in s["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"]
    }
    for statement in _dynamodb(real, function):
        if _is_index(statement) or not _table_actions(statement):
            continue  # index queries, and the table stream's reads, name no item keys
        patterns = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        reachable = patterns is None or any(fnmatchcase("OPERATOR", p) for p in patterns)
        assert not reachable or set(OPERATOR_KEYS) <= denied, (function, patterns)


def test_the_operator_api_reads_operator_keys_and_tenants_but_no_person_or_staff_user(real: Template) -> None:
    (allowed,) = _dynamodb(real, "operator_api")
    assert set(allowed["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]) == {*OPERATOR_KEYS, "T#*"}
    (deny,) = _dynamodb(real, "operator_api", "Deny")
    denied = set(deny["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"])
    assert {"T#*#C#*", "T#*#A#*", "T#*#STAFF", "K#*"} <= denied


def test_login_deletes_only_its_counters_and_staff_items(real: Template) -> None:
    (delete,) = [s for s in _dynamodb(real, "auth") if _actions(s) & DELETE]
    assert _actions(delete) == DELETE
    assert set(delete["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]) == {"T#*#STAFF", "RL#*"}
    (deny,) = _dynamodb(real, "auth", "Deny")
    assert {"T#*#C#*", "T#*#A#*"} <= set(deny["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"])


def test_the_authorizer_reads_api_keys_and_tenant_items_only(real: Template) -> None:
    (statement,) = _dynamodb(real, "authorizer")
    assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["K#*", "T#*"]


# It deletes uploads that fail their check, which the bucket's default retention has already locked, sets each
# verified file's retention, and honours the deletions erasure, expiry and imports queue for it, each only once the
# table shows it is due (services/evidence_deletion.py). No other role may ever get the bypass.
GOVERNANCE_BYPASS = "evidence_check"
DELETION_REQUESTERS = {"admin_rights", "console", "retention_sweeper", "import_processor"}


def test_only_the_evidence_checker_may_bypass_governance_retention(real: Template) -> None:
    bypassing = {
        name for name in DEPLOYED if any("s3:BypassGovernanceRetention" in _actions(s) for s in _statements(real, name))
    }
    assert bypassing == {GOVERNANCE_BYPASS}
    (bypass,) = [s for s in _statements(real, GOVERNANCE_BYPASS) if "s3:BypassGovernanceRetention" in _actions(s)]
    prefixes = {resource["Fn::Join"][1][-1] for resource in bypass["Resource"]}
    assert prefixes == {"/evidence/*", "/imports/*", "/exports/*"}  # never audit/ or checkpoints/


@pytest.mark.parametrize("function", sorted(DELETION_REQUESTERS))
def test_erasure_expiry_and_imports_queue_their_deletions_instead(real: Template, function: str) -> None:
    queues = real.find_resources("AWS::SQS::Queue")
    (upload_queue,) = [logical_id for logical_id in queues if logical_id[:-8] == "MessagingEvidenceUploadQueue"]
    sends = [s for s in _statements(real, function) if "sqs:SendMessage" in _actions(s)]
    queues_sent_to = [r for s in sends for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert {"Fn::GetAtt": [upload_queue, "Arn"]} in queues_sent_to
    assert not any(a.startswith("s3:DeleteObjectVersion") for s in _statements(real, function) for a in _actions(s))
