"""Webhook subscriptions, their delivery log, and the change feed, in the one table.

| item | pk | sk |
| --- | --- | --- |
| a webhook subscription (URL, event types, sealed secrets, status) | `T#{tenant}#WEBHOOKS` | `SUB#{subscription}` |
| one event's delivery to one subscription | `T#{tenant}#WHD#{subscription}` | `{delivery}` (time-ordered) |
| a change-feed entry (the CloudEvent) | `T#{tenant}#FEED#{yyyy-mm}` | `{recorded at}#{n:04d}#{event id}` |

Deliveries and feed entries carry `expires_at`, so the table's TTL removes them after their retention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import ConditionFailed, translate_aws_errors
from samtykke.adapters.repository import AlreadyExists, ConsentRepository, from_attributes, to_attributes
from samtykke.domain.errors import RetryableError

SUBSCRIPTION_PREFIX = "SUB#"


def webhooks_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#WEBHOOKS"


def deliveries_pk(tenant_id: str, subscription_id: str) -> str:
    return f"T#{tenant_id}#WHD#{subscription_id}"


def feed_pk(tenant_id: str, month: str) -> str:
    return f"T#{tenant_id}#FEED#{month}"


class EventsRepository:
    def __init__(self, repo: ConsentRepository) -> None:
        self._repo = repo
        self.table_name = repo.table_name

    # --- subscriptions -----------------------------------------------------------------------------------

    def subscriptions(self, tenant_id: str) -> list[dict[str, Any]]:
        return [
            item
            for item in self._repo.query_partition(webhooks_pk(tenant_id))
            if item["sk"].startswith(SUBSCRIPTION_PREFIX)
        ]

    def subscription(self, tenant_id: str, subscription_id: str) -> dict[str, Any] | None:
        return self._repo.get(webhooks_pk(tenant_id), SUBSCRIPTION_PREFIX + subscription_id, consistent=True)

    def create_subscription(self, tenant_id: str, item: dict[str, Any]) -> None:
        self._repo.put_new({"pk": webhooks_pk(tenant_id), "sk": SUBSCRIPTION_PREFIX + item["subscription_id"], **item})

    def update_subscription(
        self, tenant_id: str, subscription_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return self._repo.update_existing(webhooks_pk(tenant_id), SUBSCRIPTION_PREFIX + subscription_id, changes)

    def delete_subscription(self, tenant_id: str, subscription_id: str) -> bool:
        with translate_aws_errors():
            result = aws.dynamodb().delete_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": webhooks_pk(tenant_id), "sk": SUBSCRIPTION_PREFIX + subscription_id}),
                ReturnValues="ALL_OLD",
            )
        return "Attributes" in result

    # --- deliveries --------------------------------------------------------------------------------------

    def create_delivery(self, tenant_id: str, item: dict[str, Any]) -> bool:
        """Records a delivery; False if it exists (a redelivered event: the first record stands)."""
        try:
            self._repo.put_new(
                {"pk": deliveries_pk(tenant_id, item["subscription_id"]), "sk": item["delivery_id"], **item}
            )
        except AlreadyExists:
            return False
        return True

    def delivery(self, tenant_id: str, subscription_id: str, delivery_id: str) -> dict[str, Any] | None:
        return self._repo.get(deliveries_pk(tenant_id, subscription_id), delivery_id, consistent=True)

    def record_attempt(
        self, tenant_id: str, subscription_id: str, delivery_id: str, expected_attempts: int, changes: dict[str, Any]
    ) -> bool:
        """Sets (None: removes) the attempt's outcome if no other worker recorded this attempt first (`attempts`
        still `expected_attempts`)."""
        sets = {name: value for name, value in changes.items() if value is not None}
        removes = [name for name, value in changes.items() if value is None]
        names = {f"#a{i}": name for i, name in enumerate([*sets, *removes])}
        values = {f":v{i}": value for i, value in enumerate(sets.values())} | {":expected": expected_attempts}
        expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(sets)))
        if removes:
            expression += " REMOVE " + ", ".join(f"#a{len(sets) + i}" for i in range(len(removes)))
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": deliveries_pk(tenant_id, subscription_id), "sk": delivery_id}),
                    ConditionExpression="attempts = :expected",
                    UpdateExpression=expression,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=to_attributes(values),
                )
        except ConditionFailed:
            return False
        return True

    def deliveries(
        self, tenant_id: str, subscription_id: str, *, limit: int, cursor: str | None, status: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a subscription's delivery log, newest first, and the next page's cursor (a delivery id)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk" + (" AND sk < :cursor" if cursor else ""),
            "ExpressionAttributeValues": to_attributes(
                {":pk": deliveries_pk(tenant_id, subscription_id)}
                | ({":cursor": cursor} if cursor else {})
                | ({":status": status} if status else {})
            ),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if status:
            request["FilterExpression"] = "#status = :status"
            request["ExpressionAttributeNames"] = {"#status": "status"}
        with translate_aws_errors():
            page = aws.dynamodb().query(**request)
        items = [from_attributes(item) for item in page.get("Items", [])]
        more = "LastEvaluatedKey" in page
        return items, (str(from_attributes(page["LastEvaluatedKey"])["sk"]) if more else None)

    # --- the change feed ---------------------------------------------------------------------------------

    def append_feed(self, items: list[dict[str, Any]]) -> None:
        """Feed entries (each with its own pk and sk), 25 per BatchWriteItem, unprocessed ones retried."""
        requests = [{"PutRequest": {"Item": to_attributes(item)}} for item in items]
        for start in range(0, len(requests), 25):
            pending: list[Any] = requests[start : start + 25]
            for _ in range(5):
                with translate_aws_errors():
                    result = aws.dynamodb().batch_write_item(RequestItems={self.table_name: pending})
                pending = (result.get("UnprocessedItems") or {}).get(self.table_name, [])
                if not pending:
                    break
            if pending:
                raise RetryableError("The change feed is busy; retry", code="throttled")

    def feed_page(
        self, tenant_id: str, month: str, *, after: str | None, before: str, limit: int
    ) -> list[dict[str, Any]]:
        """Feed entries of one month with `after < sk < before`, oldest first."""
        conditions = "pk = :pk AND sk BETWEEN :from AND :to"
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": conditions,
            "ExpressionAttributeValues": to_attributes(
                {":pk": feed_pk(tenant_id, month), ":from": (after or "") + "\x00", ":to": before}
            ),
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            request["Limit"] = limit - len(items)
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            items += [from_attributes(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items
