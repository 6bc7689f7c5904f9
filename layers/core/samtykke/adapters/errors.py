"""Translating AWS errors into domain errors, so that no AWS error code leaks upward."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from samtykke.domain.errors import Conflict, RetryableError

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",
        "KMSInternalException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class ConditionFailed(Conflict):
    """A conditional write lost: the item changed (or exists) since it was read. `item` is the raw (attribute-value)
    item in place, where the write asked for it (ReturnValuesOnConditionCheckFailure)."""

    code = "condition_failed"

    def __init__(self, message: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.item = item


class TransactionConflict(Conflict):
    """A TransactWriteItems was cancelled. `reasons[i]` is the cancellation code of action i ('None' if fine);
    `items[i]` the item that failed its condition, where the action asked for it (ReturnValuesOnConditionCheckFailure).
    """

    code = "transaction_conflict"

    def __init__(self, reasons: list[str], items: list[dict[str, Any] | None] | None = None) -> None:
        super().__init__(f"Transaction cancelled: {reasons}")
        self.reasons = reasons
        self.items = items or [None] * len(reasons)

    def item_at(self, index: int) -> dict[str, Any] | None:
        """The raw (attribute-value) item that failed action `index`'s condition, if it was returned."""
        return self.items[index] if index < len(self.items) else None

    def failed_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


class AwsUnreachable(RetryableError):
    """No answer came back, after botocore's own retries: the write may or may not have committed."""

    code = "aws_unavailable"


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def translate_aws_errors() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in THROTTLING_CODES:
            raise RetryableError("The service is busy; retry shortly", code="throttled", retry_after=1) from exc
        if code == "ConditionalCheckFailedException":
            item = exc.response.get("Item")
            raise ConditionFailed(
                "The item changed concurrently", dict(item) if isinstance(item, dict) else None
            ) from exc
        if code == "TransactionCanceledException":
            cancelled = exc.response.get("CancellationReasons", [])
            reasons = [str(r.get("Code", "None")) for r in cancelled]
            if any(r in THROTTLING_CODES or r == "ThrottlingError" for r in reasons):
                raise RetryableError("The service is busy; retry shortly", code="throttled", retry_after=1) from exc
            raise TransactionConflict(reasons, [dict(r["Item"]) if "Item" in r else None for r in cancelled]) from exc
        raise
    except (HTTPClientError, BotocoreConnectionError) as exc:
        raise AwsUnreachable("AWS did not answer; retry shortly", retry_after=1) from exc
