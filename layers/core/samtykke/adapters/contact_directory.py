"""Paging a tenant's contacts through the table's indexes: the directory (every contact, by creation time) and the
candidates index (every consent state of one purpose and channel, by contact id).

| index | partition | sort key | written |
| --- | --- | --- | --- |
| `directory` | `gsi3pk = T#{tenant}#DIR` | `gsi3sk = {created_at}#{contact}` | on a new contact's PROFILE item |
| `candidates` | `gsi2pk = T#{tenant}#CAND#{purpose}#{channel}` | `gsi2sk = {contact}` | on each consent state |

Index reads are eventually consistent: a contact made a moment ago may appear on the next call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.adapters.repository import from_attributes, to_attributes

DIRECTORY_INDEX = "directory"
CANDIDATES_INDEX = "candidates"
INDEX_KEYS = {DIRECTORY_INDEX: ("gsi3pk", "gsi3sk"), CANDIDATES_INDEX: ("gsi2pk", "gsi2sk")}


def directory_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#DIR"


def directory_attributes(tenant_id: str, contact_id: str, created_at: str) -> dict[str, str]:
    """What a new contact's PROFILE item carries to be listed."""
    return {"gsi3pk": directory_pk(tenant_id), "gsi3sk": f"{created_at}#{contact_id}"}


@dataclass(frozen=True)
class IndexPage:
    rows: list[dict[str, Any]]  # the projected attributes of each row
    last_key: dict[str, Any] | None  # where the next page starts; None on the last


class ContactDirectory:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def page(
        self,
        index: str,
        partition: str,
        *,
        limit: int,
        start: Mapping[str, Any] | None = None,
        sort_between: tuple[str, str] | None = None,
        equals: Mapping[str, str] | None = None,
    ) -> IndexPage:
        """One page of an index partition in sort-key order; `equals` filters on projected attributes."""
        pk_name, sk_name = INDEX_KEYS[index]
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": partition}
        condition = "#pk = :pk"
        if sort_between is not None:
            names["#sk"] = sk_name
            values |= {":from": sort_between[0], ":to": sort_between[1]}
            condition += " AND #sk BETWEEN :from AND :to"
        request: dict[str, Any] = {"TableName": self.table_name, "IndexName": index, "Limit": limit}
        if equals:
            names |= {f"#f{i}": name for i, name in enumerate(equals)}
            values |= {f":f{i}": value for i, value in enumerate(equals.values())}
            request["FilterExpression"] = " AND ".join(f"#f{i} = :f{i}" for i in range(len(equals)))
        request |= {
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_attributes(values),
        }
        if start:
            request["ExclusiveStartKey"] = to_attributes(dict(start))
        with translate_aws_errors():
            result = aws.dynamodb().query(**request)
        last = result.get("LastEvaluatedKey")
        return IndexPage(
            rows=[from_attributes(row) for row in result.get("Items", [])],
            last_key=from_attributes(last) if last else None,
        )
