"""Fixed-window request counters on DynamoDB: one small item per key and window, deleted by TTL.

| item | pk | sk |
| --- | --- | --- |
| a counter | `RL#{tenant}#{scope}#{keyed hash of what is counted}` | `W#{window start, epoch seconds}` |

Counted things (addresses, IP addresses) are personal data, so callers pass a keyed hash, never the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from samtykke.adapters import aws
from samtykke.adapters.errors import ConditionFailed, translate_aws_errors
from samtykke.adapters.repository import to_attributes

TTL_SLACK_SECONDS = 3600  # DynamoDB deletes expired items lazily; the counter is ignored after its window anyway


@dataclass(frozen=True)
class Limit:
    scope: str  # what is counted, e.g. "pref-link-email"
    max_requests: int
    window_seconds: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends; 0 when allowed


def counter_pk(tenant_id: str, scope: str, hashed: str) -> str:
    return f"RL#{tenant_id}#{scope}#{hashed}"


class RateLimitRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def hit(self, tenant_id: str, limit: Limit, hashed: str, *, now: int) -> Verdict:
        """Counts one request in the current window, unless the window is already full."""
        window_start = now - now % limit.window_seconds
        window_end = window_start + limit.window_seconds
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": counter_pk(tenant_id, limit.scope, hashed), "sk": f"W#{window_start}"}),
                    UpdateExpression="ADD hits :one SET expires_at = :expires",
                    ConditionExpression="attribute_not_exists(hits) OR hits < :max",
                    ExpressionAttributeValues=to_attributes(
                        {":one": 1, ":max": limit.max_requests, ":expires": window_end + TTL_SLACK_SECONDS}
                    ),
                )
        except ConditionFailed:
            return Verdict(False, max(1, window_end - now))
        return Verdict(True, 0)
