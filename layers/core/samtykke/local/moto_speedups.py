"""Speed-ups for moto's DynamoDB, for the local stack, the tests and the benchmark alike (one copy).

moto 5.1 deep-copies every table a transaction touches before it applies the transaction, so that it can roll
back. The cost grows with the table: with a few thousand contacts in the table, one ledger write takes tens of
milliseconds, and a 10,000-row import (one transaction per row, as the ledger requires) would take hours.

`cheap_transaction_rollback` keeps moto's own transaction logic (conditions, cancellation reasons, the one
operation per item rule) and replaces only the rollback: it snapshots the items the transaction names, not the
whole table, and puts exactly those back when moto cancels the transaction. What our code can observe is the
same: all of a transaction or none of it.

It also gives moto's `UpdateItem` a fast path for the one shape the ledger uses on every new contact's address
(`SET a = :x, #b = if_not_exists(#b, :y)`): moto validates such an expression through its generic AST twice per
call, which is three quarters of a ledger write's time. Conditions are still evaluated by moto's own parser;
any other expression takes moto's normal path.

Last, moto re-measures a whole item every time it sets one of its attributes (quadratic in attributes); the
speed-up skips that 400 KB item-size check, which no item of ours comes near. It parses each condition expression
that names no values (`attribute_not_exists(pk)`) once rather than twice per action. botocore still validates
every request on the client side, as it does in production. A Query on the table (not an
index) reads only its own partition, as DynamoDB does, rather than every item in the table.

`cheap_transaction_rollback(patcher)` patches moto's classes for as long as the block runs; `patcher` is anything
with `setattr(target, name, value)` that undoes its changes later (pytest's `MonkeyPatch`); without one, the block
undoes them itself on exit.
"""

from __future__ import annotations

import copy
import json
import re
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Patcher(Protocol):
    def setattr(self, target: Any, name: str, value: Any) -> None: ...


class _Restoring:
    """A `Patcher` that puts every attribute back when `undo()` is called."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def setattr(self, target: Any, name: str, value: Any) -> None:
        self._saved.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._saved:
            target, name, value = self._saved.pop()
            setattr(target, name, value)


@contextmanager
def cheap_transaction_rollback(monkeypatch: Patcher | None = None) -> Iterator[None]:
    restoring = _Restoring() if monkeypatch is None else None
    patcher: Patcher = restoring if restoring is not None else monkeypatch  # type: ignore[assignment]
    try:
        yield from _patched(patcher)
    finally:
        if restoring is not None:
            restoring.undo()


def _patched(monkeypatch: Patcher) -> Iterator[None]:
    from moto.dynamodb import comparisons, models, responses
    from moto.dynamodb.comparisons import create_condition_expression_parser
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    def no_table_copies(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []
        for action in transact_items:
            for op_type, op in action.items():
                if op.get("TableName") not in self.tables:
                    continue
                table = self.tables[op["TableName"]]
                attributes = op["Item"] if op_type == "Put" else op.get("Key", {})
                if table.hash_key_attr not in attributes:
                    continue
                hash_value = DynamoType(attributes[table.hash_key_attr])
                range_value = (
                    DynamoType(attributes[table.range_key_attr])
                    if table.range_key_attr and table.range_key_attr in attributes
                    else None
                )
                snapshots.append(
                    (table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value)))
                )
        try:
            original(self, transact_items)
        except (TransactionCanceledException, MockValidationException):
            for table, hash_value, range_value, before in reversed(snapshots):
                if range_value is None:
                    if before is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = before
                elif before is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = before
            raise

    original_update = models.DynamoDBBackend.update_item
    simple_set = re.compile(r"^SET\s+(?P<body>[^()]*(?:if_not_exists\([^()]*\)[^()]*)*)$")
    assignment = re.compile(
        r"^(?P<name>#?\w+)\s*=\s*(?:(?P<value>:\w+)|if_not_exists\(\s*(?P<same>#?\w+)\s*,\s*(?P<default>:\w+)\s*\))$"
    )

    def update_item(self: Any, table_name: str, key: dict[str, Any], **kwargs: Any) -> Any:
        names = kwargs.get("expression_attribute_names") or {}
        values = kwargs.get("expression_attribute_values") or {}
        plan = _simple_plan(kwargs.get("update_expression"), names)
        if plan is None or kwargs.get("attribute_updates") or kwargs.get("expected"):
            return original_update(self, table_name, key, **kwargs)
        table = self.get_table(table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_value, range_value)
        condition = create_condition_expression_parser(kwargs.get("condition_expression"), names, values).parse()
        if not condition.expr(item):
            raise ConditionalCheckFailed
        if item is None:
            data = {table.hash_key_attr: key[table.hash_key_attr]}
            if table.range_key_attr:
                data[table.range_key_attr] = key[table.range_key_attr]
            table.put_item(data)
            item = table.get_item(hash_value, range_value)
        for name, value_ref, only_if_missing in plan:
            if not (only_if_missing and name in item.attrs):
                item.attrs[name] = DynamoType(values[value_ref])
        return item

    def _simple_plan(expression: str | None, names: dict[str, str]) -> list[tuple[str, str, bool]] | None:
        match = simple_set.match((expression or "").strip())
        if match is None:
            return None
        plan = []
        for part in re.split(r",(?![^()]*\))", match.group("body")):
            parsed = assignment.match(part.strip())
            if parsed is None:
                return None
            name = names.get(parsed.group("name"), parsed.group("name"))
            if parsed.group("value"):
                plan.append((name, parsed.group("value"), False))
            elif names.get(parsed.group("same"), parsed.group("same")) == name:
                plan.append((name, parsed.group("default"), True))
            else:
                return None
        return plan

    monkeypatch.setattr(models.DynamoDBBackend, "update_item", update_item)
    monkeypatch.setattr(LimitedSizeDict, "__setitem__", dict.__setitem__)

    parsers: dict[tuple[str, str], Any] = {}
    original_parser = comparisons.create_condition_expression_parser

    def condition_parser(expression: str | None, names: Any, values: Any) -> Any:
        if expression is None or (values and ":" in expression):
            return original_parser(expression, names, values)
        key = (expression, json.dumps(names or {}, sort_keys=True))
        parser = parsers.get(key)
        if parser is None:
            parser = original_parser(expression, names, values)
            parsed = parser.parse()
            parser.parse = lambda: parsed  # type: ignore[method-assign]  # evaluated against items, never changed
            parsers[key] = parser
        return parser

    for module in (comparisons, models, responses):
        monkeypatch.setattr(module, "create_condition_expression_parser", condition_parser)

    original_query = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key) or {}
        self.all_items = lambda: list(partition.values())  # this call only: the one partition
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    monkeypatch.setattr(Table, "query", query)
    monkeypatch.setattr(models, "copy", types.SimpleNamespace(deepcopy=no_table_copies, copy=copy.copy))
    monkeypatch.setattr(models.DynamoDBBackend, "transact_write_items", transact_write_items)
    yield
