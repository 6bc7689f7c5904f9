"""The tenant's link-key version, on its settings item: advanced by one conditional update per rotation."""

from __future__ import annotations

from datetime import datetime

from samtykke.adapters import aws
from samtykke.adapters.errors import ConditionFailed, translate_aws_errors
from samtykke.adapters.repository import META, tenant_pk, to_attributes


class LinkKeyRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

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
