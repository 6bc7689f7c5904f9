"""DynamoDB access for staff: users, sessions, one-time tokens, API-key index and counters.

Key design (docs/staff-and-audit.md mirrors this). Everything a tenant owns is under `T#{tenant}`:

| item | pk | sk |
| --- | --- | --- |
| staff user (role, grants, scrypt hash, sealed email and MFA secret, epochs) | `T#{tenant}#STAFF` | `USER#{user}` |
| staff email within the tenant (blind index, unique) | `T#{tenant}#STAFF` | `EMAIL#{hmac}` |
| refresh-token family (one login) | `T#{tenant}#STAFF` | `FAMILY#{family}` |
| password-reset or invitation token (by hash; TTL) | `T#{tenant}#STAFF` | `RESET#{sha256}` |
| API key of the tenant (index for listing and revoking) | `T#{tenant}#STAFF` | `APIKEY#{key}` |
| audit entries and their chain heads | see `adapters/audit_log.py` | |

Three kinds of item are global, because they are read before any tenant is known:

| item | pk | sk |
| --- | --- | --- |
| staff directory: an email's tenants (login without `tenant_id`) | `SD#{hmac(directory key, email)}` | `T#{tenant}` |
| failure counters and locks (TTL) | `RL#{kind}#{hmac(directory key, subject)}` | `W#{window start}` or `LOCK` |
| the KMS-encrypted directory key | `SVC` | `DIRECTORY_KEY` |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import TransactionConflict, translate_aws_errors
from samtykke.adapters.repository import AlreadyExists, api_key_pk, from_attributes, put_new_item, to_attributes
from samtykke.domain.work import digest_token

USER = "USER#"
EMAIL = "EMAIL#"
FAMILY = "FAMILY#"
RESET = "RESET#"
APIKEY = "APIKEY#"
SERVICE_PK = "SVC"
DIRECTORY_KEY_SK = "DIRECTORY_KEY"


def staff_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#STAFF"


def directory_pk(email_hash: str) -> str:
    return f"SD#{email_hash}"


def counter_pk(kind: str, subject_hash: str) -> str:
    return f"RL#{kind}#{subject_hash}"


class UserExists(AlreadyExists):
    code = "user_exists"


def _update_request(
    table: str,
    key: Mapping[str, str],
    *,
    set_: Mapping[str, Any] | None = None,
    add: Mapping[str, int] | None = None,
    remove: list[str] | None = None,
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An UpdateItem request; attribute names are always placeholders (#s0, #a0, #r0)."""
    all_names: dict[str, str] = dict(names or {})
    all_values: dict[str, Any] = dict(values or {})
    clauses = []
    sets = []
    for i, (name, value) in enumerate((set_ or {}).items()):
        all_names[f"#s{i}"] = name
        all_values[f":s{i}"] = value
        sets.append(f"#s{i} = :s{i}")
    if sets:
        clauses.append("SET " + ", ".join(sets))
    adds = []
    for i, (name, value) in enumerate((add or {}).items()):
        all_names[f"#a{i}"] = name
        all_values[f":a{i}"] = value
        adds.append(f"#a{i} :a{i}")
    if adds:
        clauses.append("ADD " + ", ".join(adds))
    removes = []
    for i, name in enumerate(remove or []):
        if "." in name:  # a map member: `recovery.<hash>`
            top, member = name.split(".", 1)
            all_names[f"#r{i}"] = top
            all_names[f"#m{i}"] = member
            removes.append(f"#r{i}.#m{i}")
        else:
            all_names[f"#r{i}"] = name
            removes.append(f"#r{i}")
    if removes:
        clauses.append("REMOVE " + ", ".join(removes))
    request: dict[str, Any] = {
        "TableName": table,
        "Key": to_attributes(key),
        "UpdateExpression": " ".join(clauses),
    }
    if condition:
        request["ConditionExpression"] = condition
    if all_names:
        request["ExpressionAttributeNames"] = all_names
    if all_values:
        request["ExpressionAttributeValues"] = to_attributes(all_values)
    return request


class StaffRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    # --- generic ---------------------------------------------------------------------------------------

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name, Key=to_attributes({"pk": pk, "sk": sk}), ConsistentRead=consistent
            )
        item = result.get("Item")
        return from_attributes(item) if item else None

    def query(
        self, pk: str, *, prefix: str | None = None, limit: int | None = None, forward: bool = True
    ) -> list[dict[str, Any]]:
        condition = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else "")
        values: dict[str, Any] = {":pk": pk} | ({":prefix": prefix} if prefix else {})
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_attributes(values),
            "ConsistentRead": True,
            "ScanIndexForward": forward,
        }
        items: list[dict[str, Any]] = []
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            items += [from_attributes(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_new(self, item: dict[str, Any]) -> None:
        put_new_item(self.table_name, item)

    def put(self, item: dict[str, Any]) -> None:
        with translate_aws_errors():
            aws.dynamodb().put_item(TableName=self.table_name, Item=to_attributes(item))

    def delete(self, pk: str, sk: str) -> None:
        with translate_aws_errors():
            aws.dynamodb().delete_item(TableName=self.table_name, Key=to_attributes({"pk": pk, "sk": sk}))

    def update(
        self,
        pk: str,
        sk: str,
        *,
        set_: Mapping[str, Any] | None = None,
        add: Mapping[str, int] | None = None,
        remove: list[str] | None = None,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A conditional update; returns the item as it is now. `ConditionFailed` if the condition fails."""
        request = _update_request(
            self.table_name,
            {"pk": pk, "sk": sk},
            set_=set_,
            add=add,
            remove=remove,
            condition=condition,
            values=values,
            names=names,
        )
        request["ReturnValues"] = "ALL_NEW"
        with translate_aws_errors():
            result = aws.dynamodb().update_item(**request)
        return from_attributes(result.get("Attributes", {}))

    def raw_update(
        self, pk: str, sk: str, expression: str, condition: str, names: Mapping[str, str], values: Mapping[str, Any]
    ) -> None:
        """An UpdateItem with a hand-written expression (list_append and friends)."""
        with translate_aws_errors():
            aws.dynamodb().update_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": pk, "sk": sk}),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=dict(names),
                ExpressionAttributeValues=to_attributes(values),
            )

    def update_action(self, pk: str, sk: str, **kwargs: Any) -> dict[str, Any]:
        """The same update as one TransactWriteItems action."""
        return {"Update": _update_request(self.table_name, {"pk": pk, "sk": sk}, **kwargs)}

    def put_action(self, item: dict[str, Any], condition: str | None = "attribute_not_exists(pk)") -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table_name, "Item": to_attributes(item)}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def delete_action(
        self, pk: str, sk: str, condition: str | None = None, values: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        delete: dict[str, Any] = {"TableName": self.table_name, "Key": to_attributes({"pk": pk, "sk": sk})}
        if condition:
            delete["ConditionExpression"] = condition
        if values:
            delete["ExpressionAttributeValues"] = to_attributes(values)
        return {"Delete": delete}

    def transact(self, actions: list[dict[str, Any]]) -> None:
        """All or nothing. `TransactionConflict` says which action's condition failed."""
        with translate_aws_errors():
            aws.dynamodb().transact_write_items(
                TransactItems=actions,  # type: ignore[arg-type]
                ClientRequestToken=digest_token(actions),  # a retry of a committed write is answered as a success
            )

    # --- users -----------------------------------------------------------------------------------------

    def create_user(
        self,
        tenant_id: str,
        user: dict[str, Any],
        email_index: str,
        directory_hash: str,
        extra_items: list[dict[str, Any]] | None = None,
    ) -> None:
        """The user, its unique email index, its directory entry (and e.g. an invitation token), atomically.

        `UserExists` if the email is taken in the tenant.
        """
        pk = staff_pk(tenant_id)
        actions = [
            self.put_action({"pk": pk, "sk": USER + user["user_id"], **user}),
            self.put_action({"pk": pk, "sk": EMAIL + email_index, "user_id": user["user_id"]}),
            self.put_action(
                {"pk": directory_pk(directory_hash), "sk": f"T#{tenant_id}", "tenant_id": tenant_id}, condition=None
            ),
            *(self.put_action(item) for item in extra_items or []),
        ]
        try:
            self.transact(actions)
        except TransactionConflict as exc:
            raise UserExists("A staff user with that email exists in this tenant") from exc

    def delete_user(self, tenant_id: str, user_id: str, email_index: str, directory_hash: str, *extra_sks: str) -> None:
        """Undoes `create_user` (the invitation could not be sent)."""
        pk = staff_pk(tenant_id)
        self.transact(
            [
                self.delete_action(pk, USER + user_id),
                self.delete_action(pk, EMAIL + email_index),
                self.delete_action(directory_pk(directory_hash), f"T#{tenant_id}"),
                *(self.delete_action(pk, sk) for sk in extra_sks),
            ]
        )

    def get_user(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        return self.get(staff_pk(tenant_id), USER + user_id)

    def user_id_by_email(self, tenant_id: str, email_index: str) -> str | None:
        item = self.get(staff_pk(tenant_id), EMAIL + email_index)
        return None if item is None else str(item["user_id"])

    def list_users(self, tenant_id: str) -> list[dict[str, Any]]:
        return self.query(staff_pk(tenant_id), prefix=USER)

    def update_user(self, tenant_id: str, user_id: str, **kwargs: Any) -> dict[str, Any]:
        condition = kwargs.pop("condition", None)
        full = "attribute_exists(pk)" + (f" AND ({condition})" if condition else "")
        return self.update(staff_pk(tenant_id), USER + user_id, condition=full, **kwargs)

    def directory_tenants(self, directory_hash: str) -> list[str]:
        return [str(i["tenant_id"]) for i in self.query(directory_pk(directory_hash), limit=20)]

    # --- API keys --------------------------------------------------------------------------------------

    def create_api_key(self, key_hash: str, key_item: dict[str, Any]) -> None:
        tenant_id, key_id = key_item["tenant_id"], key_item["key_id"]
        self.transact(
            [
                self.put_action({"pk": api_key_pk(key_hash), "sk": "KEY", **key_item}),
                self.put_action({"pk": staff_pk(tenant_id), "sk": APIKEY + key_id, "key_hash": key_hash, **key_item}),
            ]
        )

    def list_api_keys(self, tenant_id: str) -> list[dict[str, Any]]:
        return self.query(staff_pk(tenant_id), prefix=APIKEY)

    def revoke_api_key(self, tenant_id: str, key_id: str, at: str) -> dict[str, Any] | None:
        """Revokes the key, in both places at once; None if the tenant has no such key."""
        index = self.get(staff_pk(tenant_id), APIKEY + key_id)
        if index is None:
            return None
        change = {"set_": {"revoked": True, "revoked_at": at}, "condition": "attribute_exists(pk) AND tenant_id = :t"}
        self.transact(
            [
                self.update_action(api_key_pk(index["key_hash"]), "KEY", values={":t": tenant_id}, **change),
                self.update_action(staff_pk(tenant_id), APIKEY + key_id, values={":t": tenant_id}, **change),
            ]
        )
        return {**index, "revoked": True, "revoked_at": at}
