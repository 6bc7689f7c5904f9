"""DynamoDB access for the audit log: chained appends, filtered pages, and whole months for the export.

| item | pk | sk |
| --- | --- | --- |
| audit entry | `T#{tenant}#AUDIT#{yyyy-mm}` | `{iso time}#{random}` |
| the month's chain head (`seq`, `hash`, `entry_id` of the last entry) | `T#{tenant}#AUDITHEAD` | `{yyyy-mm}` |
| the tenants with entries in a month (the daily export's list) | `AUDITMONTH#{yyyy-mm}` | `{tenant}` |

An entry keeps its canonical JSON `record` (what the hash covers and the export writes) and, beside it, the
attributes the filters read: `action`, `actor_id`, `target_id`, `contacts`, `at`. An append puts the entry and
moves the head in one transaction, conditional on the head being where it was read, so concurrent writers line
up in `seq` order and no entry is ever lost or chained twice.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import TransactionConflict, translate_aws_errors
from samtykke.adapters.repository import from_attributes, to_attributes
from samtykke.domain.errors import BadRequest
from samtykke.domain.work import digest_token

HEAD_SUFFIX = "#AUDITHEAD"


class InvalidAuditCursor(BadRequest):
    code = "invalid_cursor"


class HeadMoved(Exception):
    """Another writer appended first: read the head again and re-chain."""


def audit_pk(tenant_id: str, month: str) -> str:
    return f"T#{tenant_id}#AUDIT#{month}"


def head_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}{HEAD_SUFFIX}"


def month_index_pk(month: str) -> str:
    return f"AUDITMONTH#{month}"


class AuditLogRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def head(self, tenant_id: str, month: str) -> dict[str, Any] | None:
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": head_pk(tenant_id), "sk": month}),
                ConsistentRead=True,
            )
        item = result.get("Item")
        return from_attributes(item) if item else None

    def append(self, tenant_id: str, month: str, entry: dict[str, Any], *, previous_seq: int) -> None:
        """Puts `entry` (seq = previous_seq + 1) and moves the head; `HeadMoved` if someone else moved it first."""
        head = {"pk": head_pk(tenant_id), "sk": month, "seq": entry["seq"], "hash": entry["hash"], "entry": entry["sk"]}
        head_put: dict[str, Any] = {"TableName": self.table_name, "Item": to_attributes(head)}
        if previous_seq:
            head_put["ConditionExpression"] = "seq = :prev"
            head_put["ExpressionAttributeValues"] = to_attributes({":prev": previous_seq})
        else:
            head_put["ConditionExpression"] = "attribute_not_exists(pk)"
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_attributes({"pk": audit_pk(tenant_id, month), **entry}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": head_put},
        ]
        if not previous_seq:  # the month's first entry: list the tenant for the daily export
            index = {"pk": month_index_pk(month), "sk": tenant_id}
            actions.append({"Put": {"TableName": self.table_name, "Item": to_attributes(index)}})
        try:
            with translate_aws_errors():
                aws.dynamodb().transact_write_items(
                    TransactItems=actions,  # type: ignore[arg-type]
                    ClientRequestToken=digest_token(actions),  # a retry of a committed write is answered as a success
                )
        except TransactionConflict as exc:
            if exc.failed_at(1) or exc.failed_at(0):
                raise HeadMoved from exc
            raise

    def page(
        self,
        tenant_id: str,
        month: str,
        *,
        limit: int,
        start_sk: str | None,
        since: str | None,
        until: str | None,
        filters: Mapping[str, str],
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` entries of one month, newest first, after `start_sk`; and whether the month has more."""
        condition, values = "pk = :pk", {":pk": audit_pk(tenant_id, month)}
        if since and until:
            condition += " AND sk BETWEEN :since AND :until"
            values |= {":since": since, ":until": until + "\uffff"}
        elif since:
            condition += " AND sk >= :since"
            values[":since"] = since
        elif until:
            condition += " AND sk <= :until"
            values[":until"] = until + "\uffff"
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_sk:
            request["ExclusiveStartKey"] = to_attributes({"pk": values[":pk"], "sk": start_sk})
        expressions, names = [], {}
        for i, (name, value) in enumerate(filters.items()):
            names[f"#f{i}"] = name
            values[f":f{i}"] = value
            expressions.append(f"contains(#f{i}, :f{i})" if name == "contacts" else f"#f{i} = :f{i}")
        if expressions:
            request["FilterExpression"] = " AND ".join(expressions)
            request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = to_attributes(values)
        items: list[dict[str, Any]] = []
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            items += [from_attributes(i) for i in page.get("Items", [])]
            last = page.get("LastEvaluatedKey")
            if len(items) >= limit:
                return items[:limit], len(items) > limit or last is not None
            if last is None:
                return items, False
            request["ExclusiveStartKey"] = last

    def tenants_with_entries(self, month: str) -> list[str]:
        return [str(item["sk"]) for item in self._all({"pk": month_index_pk(month)})]

    def month(self, tenant_id: str, month: str) -> Iterator[dict[str, Any]]:
        """Every entry of a month, in key (time) order (the export)."""
        return self._all({"pk": audit_pk(tenant_id, month)})

    def _all(self, key: dict[str, str]) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_attributes({":pk": key["pk"]}),
            "ConsistentRead": True,
        }
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            yield from (from_attributes(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"sk": sk}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        sk = data["sk"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidAuditCursor("The cursor is not valid") from exc
    if not isinstance(sk, str) or len(sk) > 100 or len(sk) < 7:
        raise InvalidAuditCursor("The cursor is not valid")
    return sk
