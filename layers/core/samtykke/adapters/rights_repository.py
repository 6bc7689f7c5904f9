"""DynamoDB access for data-subject rights: evidence files, imports and their reports, sends, erasure, expiry.

Key design (docs/rights.md mirrors this):

| item | pk | sk |
| --- | --- | --- |
| evidence file of a consent event (the event never changes) | `T#{tenant}#C#{contact}` | `EVIDENCE#{event}#{n:03d}` |
| a send to the contact (written by campaigns) | `T#{tenant}#C#{contact}` | `MSG#…` |
| an import: declaration, file, status, cursor, counts | `T#{tenant}#IMP#{import}` | `IMPORT` |
| evidence file of an import's declaration | `T#{tenant}#IMP#{import}` | `EVIDENCE#{declaration}#{n:03d}` |
| a bad or skipped row (line and reason, no address) | `T#{tenant}#IMP#{import}` | `ISSUE#{line:010d}` |
| a tenant's imports, oldest first | `T#{tenant}#IMPORTS` | `{import}` |

Pending double opt-ins are listed in the `audience` index under `gsi1pk=PENDING#{day}`, with
`gsi1sk={at}#{tenant}#{contact}#{purpose}#{channel}` (see `services/ledger.py`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import ConditionFailed, translate_aws_errors
from samtykke.adapters.repository import (
    ADDR,
    PROFILE,
    SEND_PREFIX,
    address_pk,
    contact_pk,
    from_attributes,
    pending_pk,
    put_new_item,
    to_attributes,
)
from samtykke.domain.errors import BadRequest

EVIDENCE = "EVIDENCE#"
SEND = SEND_PREFIX
EVENT = "EVENT#"
ISSUE = "ISSUE#"
IMPORT = "IMPORT"
AUDIENCE_INDEX = "audience"
BATCH_GET = 100
BATCH_WRITE = 25


def import_pk(tenant_id: str, import_id: str) -> str:
    return f"T#{tenant_id}#IMP#{import_id}"


def imports_index_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#IMPORTS"


def evidence_sk(ref_id: str, n: int) -> str:
    return f"{EVIDENCE}{ref_id}#{n:03d}"


def issue_sk(line: int) -> str:
    return f"{ISSUE}{line:010d}"


def encode_cursor(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(dict(key), separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API gave out", code="invalid_cursor") from exc
    if not isinstance(value, dict) or set(value) != {"pk", "sk"} or not all(isinstance(v, str) for v in value.values()):
        raise BadRequest("The cursor is not one this API gave out", code="invalid_cursor")
    return value


class RightsRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    # --- generic -----------------------------------------------------------------------------------------

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name, Key=to_attributes({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        item = result.get("Item")
        return from_attributes(item) if item else None

    def put_new(self, item: dict[str, Any]) -> None:
        put_new_item(self.table_name, item)

    def update(
        self,
        pk: str,
        sk: str,
        changes: Mapping[str, Any],
        *,
        condition: str,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """SETs `changes` if `condition` holds; the new item, or None when the condition failed."""
        names = {f"#a{i}": name for i, name in enumerate(changes)} | dict(names or {})
        expression_values = {f":v{i}": value for i, value in enumerate(changes.values())} | dict(values or {})
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": to_attributes({"pk": pk, "sk": sk}),
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes))),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_attributes(expression_values),
            "ReturnValues": "ALL_NEW",
        }
        try:
            with translate_aws_errors():
                result = aws.dynamodb().update_item(**request)
        except ConditionFailed:
            return None
        return from_attributes(result["Attributes"])

    def query(
        self,
        pk: str,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        start: Mapping[str, Any] | None = None,
        filter_expression: str | None = None,
        filter_values: Mapping[str, Any] | None = None,
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of one partition in key order (optionally `begins_with(sk, prefix)`), following pages."""
        condition = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else "")
        values: dict[str, Any] = {":pk": pk} | ({":prefix": prefix} if prefix else {}) | dict(filter_values or {})
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_attributes(values),
            "ConsistentRead": True,
        }
        if filter_expression:
            request["FilterExpression"] = filter_expression
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if limit:
            request["Limit"] = limit
        if start:
            request["ExclusiveStartKey"] = to_attributes(start)
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            yield from (from_attributes(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def query_page(
        self, pk: str, *, prefix: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_attributes({":pk": pk, ":prefix": prefix}),
            "ConsistentRead": True,
            "Limit": limit,
        }
        if cursor:
            start = decode_cursor(cursor)
            if start.get("pk") != pk or not str(start.get("sk", "")).startswith(prefix):
                raise BadRequest("The cursor is not one this API gave out", code="invalid_cursor")
            request["ExclusiveStartKey"] = to_attributes(start)
        with translate_aws_errors():
            page = aws.dynamodb().query(**request)
        items = [from_attributes(item) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return items, encode_cursor(from_attributes(last)) if last else None

    def batch_get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by (pk, sk), 100 keys per call, retrying what DynamoDB leaves unprocessed."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [to_attributes({"pk": pk, "sk": sk}) for pk, sk in unique[start : start + BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            for _ in range(8):
                with translate_aws_errors():
                    result = aws.dynamodb().batch_get_item(RequestItems=request)
                for item in result.get("Responses", {}).get(self.table_name, []):
                    plain = from_attributes(item)
                    found[(plain["pk"], plain["sk"])] = plain
                request = result.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    def batch_put(self, items: list[dict[str, Any]]) -> None:
        self._batch_write([{"PutRequest": {"Item": to_attributes(item)}} for item in items])

    def batch_delete(self, keys: list[tuple[str, str]]) -> None:
        self._batch_write([{"DeleteRequest": {"Key": to_attributes({"pk": pk, "sk": sk})}} for pk, sk in keys])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        from samtykke.domain.errors import RetryableError

        for start in range(0, len(requests), BATCH_WRITE):
            pending: dict[str, Any] = {self.table_name: requests[start : start + BATCH_WRITE]}
            for _ in range(8):
                with translate_aws_errors():
                    result = aws.dynamodb().batch_write_item(RequestItems=pending)
                pending = result.get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise RetryableError("DynamoDB is busy; retry shortly", code="throttled")

    # --- contacts: events, sends, addresses, erasure -----------------------------------------------------

    def find_event(self, tenant_id: str, contact_id: str, event_id: str) -> dict[str, Any] | None:
        return next(
            self.query(
                contact_pk(tenant_id, contact_id),
                prefix=EVENT,
                filter_expression="event_id = :event",
                filter_values={":event": event_id},
            ),
            None,
        )

    def declaration_requests(self, tenant_id: str, contact_id: str, declaration_id: str) -> set[str]:
        """The request ids (an import's `{import}:{line}`) of the contact's events under this import declaration;
        empty if there are none. An event from before request ids were kept counts as `""`."""
        return {
            str(event.get("request_id", ""))
            for event in self.query(
                contact_pk(tenant_id, contact_id),
                prefix=EVENT,
                filter_expression="declaration_id = :d",
                filter_values={":d": declaration_id},
                projection="sk, request_id",
            )
        }

    def addresses(self, tenant_id: str, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Address items by (kind, blind index); an address nobody has used is absent."""
        keys = {(address_pk(tenant_id, kind, blind), ADDR): (kind, blind) for kind, blind in wanted}
        found = self.batch_get(list(keys))
        return {keys[key]: item for key, item in found.items()}

    def release_address(
        self, tenant_id: str, kind: str, blind_index: str, contact_id: str, *, forget_unsuppressed: bool = False
    ) -> None:
        """Removes the address's pointer to the contact and its copy of the contact's head (its suppressions stay);
        harmless if already gone.

        With `forget_unsuppressed`, an address item that holds no suppression is deleted outright, blind index and
        all (an expired sign-up leaves nothing behind).
        """
        key = to_attributes({"pk": address_pk(tenant_id, kind, blind_index), "sk": ADDR})
        if forget_unsuppressed:
            try:
                with translate_aws_errors():
                    aws.dynamodb().delete_item(
                        TableName=self.table_name,
                        Key=key,
                        ConditionExpression=(
                            "contact_id = :c AND (attribute_not_exists(suppressions) OR size(suppressions) = :zero)"
                        ),
                        ExpressionAttributeValues=to_attributes({":c": contact_id, ":zero": 0}),
                    )
                return
            except ConditionFailed:
                pass
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="REMOVE contact_id, head",
                    ConditionExpression="contact_id = :c",
                    ExpressionAttributeValues=to_attributes({":c": contact_id}),
                )
        except ConditionFailed:
            return

    def shred_contact(self, tenant_id: str, contact_id: str, *, expected_seq: int, at: str, reason: str) -> bool:
        """Crypto-shreds the contact: its wrapped key, sealed profile and address indexes go, a tombstone stays.

        Guarded by the log head's sequence number, so a consent change that lands in between makes it fail (False)
        and the caller withdraws again first.
        """
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": contact_pk(tenant_id, contact_id), "sk": PROFILE}),
                    UpdateExpression=(
                        "REMOVE wrapped_key, profile, email_bidx, phone_bidx, locale "
                        "SET erased = :true, erased_at = :at, erasure_reason = :reason"
                    ),
                    ConditionExpression="seq = :seq AND attribute_exists(wrapped_key)",
                    ExpressionAttributeValues=to_attributes(
                        {":true": True, ":at": at, ":reason": reason, ":seq": expected_seq}
                    ),
                )
        except ConditionFailed:
            return False
        return True

    # --- the pending index -------------------------------------------------------------------------------

    def pending_before(self, day: str, before: str) -> Iterator[dict[str, Any]]:
        """Pending double opt-ins listed under `day` whose request is older than `before` (ISO time)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": AUDIENCE_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk < :before",
            "ExpressionAttributeValues": to_attributes({":pk": pending_pk(day), ":before": before}),
        }
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            yield from (from_attributes(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
