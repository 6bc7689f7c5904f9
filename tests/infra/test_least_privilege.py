"""Issue 20: each function's DynamoDB actions and key prefixes, read from the synthesized policies."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.function import pascal_case
from samtykke.resources import ADMIN_KEYS, FUNCTIONS, OPERATOR_KEYS, ROUTES, TABLE_STREAM

pytestmark = pytest.mark.infra

GET = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"}
QUERY = {"dynamodb:Query"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem"}
LEDGER = GET | QUERY | WRITE
BATCH = {"dynamodb:BatchWriteItem"}
DELETE = {"dynamodb:DeleteItem"}
# The table stream's event source mapping reads the stream with its consumer's role.
STREAM = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

# What each function may do to the table's items (index queries apart), and nothing more.
EXPECTED_ITEM_ACTIONS: dict[str, set[str]] = {
    "consent_capture": LEDGER,
    "unsubscribe": LEDGER,
    "sms_webhooks": LEDGER,
    "sms_inbound": LEDGER,
    "authorizer": GET | QUERY,
    "auth": LEDGER | DELETE,
    "admin_api": LEDGER | BATCH | DELETE,
    "links_admin": LEDGER,
    "sms_admin": LEDGER | DELETE,
    "evidence_check": LEDGER,
    "import_processor": LEDGER | BATCH,
    "retention_sweeper": LEDGER | DELETE,
    "campaign_dispatch": LEDGER,
    "campaign_sender": LEDGER | BATCH,
    "ses_events": LEDGER,
    "openapi": set(),
    "operator_api": LEDGER,
    # Every item action but Scan, on any key (their keys are not narrowed yet).
    "console": LEDGER | BATCH | DELETE,
    "campaign_reconciler": LEDGER | BATCH | DELETE,
    "change_publisher": LEDGER | BATCH | DELETE,
    "webhook_delivery": LEDGER | BATCH | DELETE,
    "events_admin": LEDGER | BATCH | DELETE,
    "checkpoint_writer": LEDGER | BATCH | DELETE,
    # Read-only, keys not narrowed yet.
    "evidence_public": GET | QUERY,
    "audit_export": GET | QUERY,
}
INDEX_QUERIES = {
    "admin_api",
    "retention_sweeper",
    "campaign_dispatch",
    "console",
    "campaign_reconciler",
    "change_publisher",
    "webhook_delivery",
    "events_admin",
    "checkpoint_writer",
    "audit_export",
}
# Functions that face the internet (a public route) or untrusted input (an SMS), other than staff login itself.
PUBLIC_DATA_PATHS = {"consent_capture", "unsubscribe", "sms_webhooks", "sms_inbound"}


def _statements(template: Template, function: str) -> list[dict[str, Any]]:
    prefix = f"Functions{pascal_case(function)}"
    return [
        statement
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if logical_id.startswith(prefix)
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


def test_every_function_is_in_the_table() -> None:
    assert set(EXPECTED_ITEM_ACTIONS) == {spec.name for spec in FUNCTIONS}


@pytest.mark.parametrize("function", sorted(EXPECTED_ITEM_ACTIONS))
def test_each_function_gets_exactly_the_item_actions_it_uses(real: Template, function: str) -> None:
    allowed = _dynamodb(real, function)
    on_items = {a for s in allowed if not _is_index(s) for a in _table_actions(s)}
    assert on_items == EXPECTED_ITEM_ACTIONS[function]
    on_indexes = {a for s in allowed if _is_index(s) for a in _table_actions(s)}
    assert on_indexes == ({"dynamodb:Query"} if function in INDEX_QUERIES else set())
    stream = {a for s in allowed for a in _actions(s) & STREAM}
    assert stream == (STREAM if function == TABLE_STREAM.consumer else set())


@pytest.mark.parametrize("function", sorted(EXPECTED_ITEM_ACTIONS))
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
        assert all(p.startswith(("T#", "RL#", "SMSNUMBER#")) for p in patterns), patterns
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
        if _is_index(statement):
            continue
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


def test_public_routes_are_served_by_functions_with_scoped_keys(real: Template) -> None:
    # The staff console logs staff in and then runs the admin services, so it has the admin API's reach.
    # evidence_public only reads (Get and Query); its keys are not narrowed yet.
    public = {route.function for route in ROUTES if route.auth == "public"} - {"openapi", "console", "evidence_public"}
    for function in public:
        for statement in _dynamodb(real, function):
            assert "Condition" in statement, (function, statement)


def test_only_the_functions_whose_job_needs_it_may_bypass_governance_retention(real: Template) -> None:
    bypassing = {
        spec.name
        for spec in FUNCTIONS
        if any("s3:BypassGovernanceRetention" in _actions(s) for s in _statements(real, spec.name))
    }
    assert bypassing == EXPECTED_GOVERNANCE_BYPASS


# Each deletes or re-dates objects that the bucket's default retention has already locked: erasure (admin_api and
# the console, which runs the same services),
# rejected uploads and the tenant's shorter retention (evidence_check), processed import CSVs (import_processor).
# No other role may ever get the bypass.
EXPECTED_GOVERNANCE_BYPASS = {"admin_api", "console", "evidence_check", "import_processor"}
