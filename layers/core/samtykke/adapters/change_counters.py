"""Per-tenant change counters: one small item per counter, `T#{tenant}` / `VERSION#{name}`, holding `v`.

A writer bumps a counter after it changes something that containers cache; a reader compares the counter with
the one its cached copy was loaded at, for the price of one consistent GetItem of one tiny item.
"""

from __future__ import annotations

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.adapters.repository import counter_key, from_attributes, to_attributes


class ChangeCounters:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def read(self, tenant_id: str, name: str) -> int:
        """The counter's value; 0 for one never bumped."""
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name,
                Key=to_attributes(counter_key(tenant_id, name)),
                ConsistentRead=True,
                ProjectionExpression="v",
            )
        item = result.get("Item")
        return int(from_attributes(item)["v"]) if item else 0

    def bump(self, tenant_id: str, name: str) -> int:
        """Adds one and returns the new value. Atomic, so concurrent writers never lose a bump."""
        with translate_aws_errors():
            result = aws.dynamodb().update_item(
                TableName=self.table_name,
                Key=to_attributes(counter_key(tenant_id, name)),
                UpdateExpression="ADD v :one",
                ExpressionAttributeValues=to_attributes({":one": 1}),
                ReturnValues="UPDATED_NEW",
            )
        return int(from_attributes(result["Attributes"])["v"])
