"""The change feed: every consent and suppression change of a tenant, in the order it was recorded, in pages.

A cursor names a position (`month`, entry key); a page holds the entries after it, oldest first. Entries newer
than `SETTLE_SECONDS` are held back, so that a publisher still writing an entry stamped a moment earlier cannot slip
in behind a cursor already handed out. Each contact's changes come in their log's order (`seq`). Delivery is at
least once: a stream batch that was retried may repeat an entry, under the same `id`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from samtykke.adapters.events.repository import EventsRepository
from samtykke.domain.errors import InvalidInput
from samtykke.services.context import Services
from samtykke.services.events.publisher import FEED_RETENTION_DAYS

SETTLE_SECONDS = 5
MAX_PAGE = 500
CURSOR_PREFIX = "c1."


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    status = 400


@dataclass(frozen=True)
class Position:
    month: str  # yyyy-mm
    key: str  # the last entry's sort key, or "" for the month's start


@dataclass(frozen=True)
class ChangesPage:
    changes: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def encode_cursor(position: Position) -> str:
    raw = f"{position.month}|{position.key}".encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _months(start: str, end: str) -> list[str]:
    year, month = (int(p) for p in start.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def parse_since(since: str | None, now: datetime) -> Position:
    """A cursor from an earlier page, an ISO date or time (changes recorded from then on), or None (all kept)."""
    if not since:
        return Position((now - timedelta(days=FEED_RETENTION_DAYS)).strftime("%Y-%m"), "")
    if since.startswith(CURSOR_PREFIX):
        try:
            raw = base64.urlsafe_b64decode(since[len(CURSOR_PREFIX) :] + "==").decode()
            month, key = raw.split("|", 1)
            datetime.strptime(month, "%Y-%m")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidCursor("The cursor is not one this API issued") from exc
        return Position(month, key)
    try:
        at = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidCursor("`since` must be a cursor or an ISO 8601 date or time") from exc
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    # Keys start with the recording time, so everything recorded at or after `at` sorts after this.
    return Position(at.astimezone(UTC).strftime("%Y-%m"), at.astimezone(UTC).isoformat(timespec="milliseconds"))


def read_changes(svc: Services, tenant_id: str, since: str | None, *, limit: int = 100) -> ChangesPage:
    now = svc.clock()
    limit = max(1, min(limit, MAX_PAGE))
    position = parse_since(since, now)
    settled = now - timedelta(seconds=SETTLE_SECONDS)
    before = settled.isoformat(timespec="milliseconds")
    repo = EventsRepository(svc.repo)
    changes: list[dict[str, Any]] = []
    for month in _months(position.month, settled.strftime("%Y-%m")):
        after = position.key if month == position.month else None
        items = repo.feed_page(tenant_id, month, after=after or None, before=before, limit=limit - len(changes))
        changes += [item["event"] for item in items]
        if items:
            position = Position(month, str(items[-1]["sk"]))
        elif month < settled.strftime("%Y-%m") and not changes:
            position = Position(month, "\uffff")  # an earlier month with nothing left: skip it from now on
        if len(changes) >= limit:
            return ChangesPage(changes, encode_cursor(position), True)
    return ChangesPage(changes, encode_cursor(position), False)
