"""Where moto's DynamoDB differs from DynamoDB in a way samtykke depends on, taught to behave like DynamoDB.

Streams and cancelled transactions. moto applies a TransactWriteItems action by action, and on cancellation puts
back a deep copy of every table it touched. The copy has a stream shard of its own, so (a) stream readers holding an
iterator keep reading the old shard, which now holds records of writes that never committed, and (b) they never see
later, committed writes. DynamoDB's stream only ever shows committed writes. The fix keeps the one shard: on
cancellation it drops the records the transaction added and hands the shard to the restored table. The table copy
shares the shard rather than copying it, which also keeps every transaction from copying the whole stream.

Applied once per process, by the local stack's moto server and by in-process moto (`local/inprocess.py`).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard

    StreamShard.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]
    original = DynamoDBBackend.transact_write_items

    @wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        names = {op.get("TableName") for item in transact_items for op in item.values() if isinstance(op, dict)}
        shards = {
            name: (self.tables[name].stream_shard, len(self.tables[name].stream_shard.items))
            for name in names
            if name in self.tables and self.tables[name].stream_shard is not None
        }
        try:
            original(self, transact_items)
        except Exception:
            for name, (shard, length) in shards.items():
                restored = self.tables.get(name)
                del shard.items[length:]
                if restored is not None:
                    shard.table = restored
                    restored.stream_shard = shard
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _applied = True
