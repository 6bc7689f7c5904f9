"""The tenant's link-key version, on its settings item: advanced by one conditional update per rotation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from samtykke.adapters import aws
from samtykke.adapters.errors import ConditionFailed, translate_aws_errors
from samtykke.adapters.repository import META, from_attributes, tenant_pk, to_attributes


@dataclass(frozen=True)
class LinkKeyVersions:
    current: int
    previous_valid_until: datetime | None


class LinkKeyRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def versions(self, tenant_id: str) -> LinkKeyVersions | None:
        """The versions that verify now, read strongly consistent (two attributes); None for no such tenant."""
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": tenant_pk(tenant_id), "sk": META}),
                ConsistentRead=True,
                ProjectionExpression="pk, link_key_version, link_key_previous_valid_until",
            )
        if "Item" not in result:
            return None
        item = from_attributes(result["Item"])
        until = item.get("link_key_previous_valid_until")
        return LinkKeyVersions(int(item.get("link_key_version", 1)), datetime.fromisoformat(until) if until else None)

    def advance(self, tenant_id: str, *, expected: int, rotated_at: datetime, previous_valid_until: datetime) -> bool:
        """Moves the version from `expected` to the next one; False if another rotation got there first."""
        # A tenant made before link keys existed has no attribute yet: it is on version 1.
        condition = "link_key_version = :expected" + (
            " OR attribute_not_exists(link_key_version)" if expected == 1 else ""
        )
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": tenant_pk(tenant_id), "sk": META}),
                    UpdateExpression="SET link_key_version = :next, link_key_rotated_at = :at, "
                    "link_key_previous_valid_until = :until",
                    ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                    ExpressionAttributeValues=to_attributes(
                        {
                            ":expected": expected,
                            ":next": expected + 1,
                            ":at": rotated_at.isoformat(),
                            ":until": previous_valid_until.isoformat(),
                        }
                    ),
                )
        except ConditionFailed:
            return False
        return True
