"""DynamoDB items for SMS: provider secrets, tenant keywords, and the numbers that route inbound SMS to a tenant.

| item | pk | sk |
| --- | --- | --- |
| a provider's sealed secret (Twilio auth token; Vonage secret, method) | `T#{tenant}` | `SMSPROVIDER#{provider}` |
| a tenant keyword (id: a hash of its folded form) | `T#{tenant}` | `SMSKEYWORD#{keyword_id}` |
| a tenant's inbound number, for listing | `T#{tenant}` | `SMSNUMBER#{e164}` |
| the tenant an inbound number (long code, short code) belongs to | `SMSNUMBER#{e164}` | `NUMBER` |
| the receipt of a processed provider message | `T#{tenant}#SMSINBOUND` | `sms-keyword#{sha256(provider:id)}` |

Everything but the number index lives in the tenant's configuration partition; one `begins_with(sk, "SMS")`
Query loads it. Inbound numbers are the tenant's own business numbers, not personal data.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from samtykke.adapters import aws
from samtykke.adapters.errors import TransactionConflict, translate_aws_errors
from samtykke.adapters.repository import from_attributes, put_new_item, tenant_pk, to_attributes
from samtykke.domain.errors import Conflict, NotFound
from samtykke.domain.work import digest_token

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SMS_PREFIX = "SMS"
PROVIDER_PREFIX = "SMSPROVIDER#"
KEYWORD_PREFIX = "SMSKEYWORD#"
NUMBER_PREFIX = "SMSNUMBER#"
NUMBER_SK = "NUMBER"


def number_pk(e164: str) -> str:
    return f"{NUMBER_PREFIX}{e164}"


def inbound_receipt(
    tenant_id: str, provider: str, message_id: str, action: str, received_at: datetime, keep_seconds: int
) -> dict[str, Any]:
    """The receipt of one processed inbound message, kept `keep_seconds` (DynamoDB TTL on `expires_at`)."""
    digest = hashlib.sha256(f"{provider}:{message_id}".encode()).hexdigest()
    return {
        "pk": f"T#{tenant_id}#SMSINBOUND",
        "sk": f"sms-keyword#{digest}",
        "action": action,
        "received_at": received_at.isoformat(),
        "expires_at": int(received_at.timestamp()) + keep_seconds,
    }


class NumberTaken(Conflict):
    code = "sms_number_taken"


class NumberNotRegistered(NotFound):
    code = "sms_number_not_found"


class SmsRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def load(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every SMS item of the tenant's configuration partition (providers, keywords, numbers)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_attributes({":pk": tenant_pk(tenant_id), ":prefix": SMS_PREFIX}),
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            items += [from_attributes(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(self, tenant_id: str, sk: str, item: dict[str, Any]) -> None:
        with translate_aws_errors():
            aws.dynamodb().put_item(
                TableName=self.table_name, Item=to_attributes({"pk": tenant_pk(tenant_id), "sk": sk, **item})
            )

    def put_new(self, tenant_id: str, sk: str, item: dict[str, Any]) -> None:
        put_new_item(self.table_name, {"pk": tenant_pk(tenant_id), "sk": sk, **item})

    def delete(self, tenant_id: str, sk: str) -> bool:
        """Deletes one configuration item; whether it existed."""
        with translate_aws_errors():
            result = aws.dynamodb().delete_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": tenant_pk(tenant_id), "sk": sk}),
                ReturnValues="ALL_OLD",
            )
        return bool(result.get("Attributes"))

    # --- inbound numbers ------------------------------------------------------------------------------

    def tenant_for_number(self, e164: str) -> str | None:
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name, Key=to_attributes({"pk": number_pk(e164), "sk": NUMBER_SK})
            )
        item = result.get("Item")
        return None if item is None else str(from_attributes(item)["tenant_id"])

    def claim_number(self, tenant_id: str, e164: str, created_at: str) -> None:
        """Routes the number to the tenant, unless another tenant has it. Registering it again is harmless."""
        record = {"number": e164, "tenant_id": tenant_id, "created_at": created_at}
        try:
            self._transact(
                [
                    self._put(
                        {"pk": number_pk(e164), "sk": NUMBER_SK, **record},
                        "attribute_not_exists(pk) OR tenant_id = :t",
                        {":t": tenant_id},
                    ),
                    self._put({"pk": tenant_pk(tenant_id), "sk": f"{NUMBER_PREFIX}{e164}", **record}, None),
                ]
            )
        except TransactionConflict as exc:
            # Worded to say no more than that the number is unavailable: whose it is, and that it is somebody's, stay
            # out of the answer.
            raise NumberTaken("The number is not available for registration") from exc

    def release_number(self, tenant_id: str, e164: str) -> None:
        delete_global: dict[str, Any] = {
            "Delete": {
                "TableName": self.table_name,
                "Key": to_attributes({"pk": number_pk(e164), "sk": NUMBER_SK}),
                "ConditionExpression": "tenant_id = :t",
                "ExpressionAttributeValues": to_attributes({":t": tenant_id}),
            }
        }
        delete_own: dict[str, Any] = {
            "Delete": {
                "TableName": self.table_name,
                "Key": to_attributes({"pk": tenant_pk(tenant_id), "sk": f"{NUMBER_PREFIX}{e164}"}),
            }
        }
        try:
            self._transact([delete_global, delete_own])
        except TransactionConflict as exc:
            raise NumberNotRegistered("The tenant has not registered that number") from exc

    # --- helpers -------------------------------------------------------------------------------------

    def _put(self, item: dict[str, Any], condition: str | None, values: dict[str, Any] | None = None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table_name, "Item": to_attributes(item)}
        if condition:
            put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = to_attributes(values)
        return {"Put": put}

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        typed: list[TransactWriteItemTypeDef] = actions  # type: ignore[assignment]
        with translate_aws_errors():  # a retry of a committed write repeats the token: answered as a success
            aws.dynamodb().transact_write_items(TransactItems=typed, ClientRequestToken=digest_token(actions))
