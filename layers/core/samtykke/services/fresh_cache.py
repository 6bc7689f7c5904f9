"""A per-container cache whose entries are dropped the moment a per-tenant change counter moves.

Every `get` reads the tenant's counter (one consistent GetItem of a tiny item) and reloads when it differs from
the one the cached value was loaded at. A writer calls `changed` after it commits, which bumps the counter, so
every container sees the change on its next request: no time window. `MAX_AGE_SECONDS` bounds only the case of
a container killed between a write and its bump.

Reuse it for anything a container caches per tenant that must not outlive a change (configuration, link keys):
give each its own counter name, or share one when the same writes change both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from samtykke.adapters.change_counters import ChangeCounters

T = TypeVar("T")

MAX_AGE_SECONDS = 300.0


@dataclass(frozen=True)
class _Entry(Generic[T]):
    version: int
    loaded_at: float
    value: T


class FreshCache(Generic[T]):
    def __init__(self, counters: ChangeCounters, name: str, load: Callable[[str], T]) -> None:
        self._counters = counters
        self._name = name
        self._load = load
        self._entries: dict[str, _Entry[T]] = {}

    def get(self, tenant_id: str) -> T:
        version = self._counters.read(tenant_id, self._name)
        entry = self._entries.get(tenant_id)
        if entry is not None and entry.version == version and time.monotonic() - entry.loaded_at < MAX_AGE_SECONDS:
            return entry.value
        value = self._load(tenant_id)  # read after the counter: a change that lands in between reloads next time
        self._entries[tenant_id] = _Entry(version, time.monotonic(), value)
        return value

    def held_at(self, tenant_id: str) -> tuple[T, int] | None:
        """The value this container holds and the counter it was loaded at, unchecked, if it is young enough.

        For a writer that conditions its write on the counter still being there (`ContactWrite.counter_at`)
        instead of reading it first.
        """
        entry = self._entries.get(tenant_id)
        if entry is None or time.monotonic() - entry.loaded_at >= MAX_AGE_SECONDS:
            return None
        return entry.value, entry.version

    def held(self, tenant_id: str) -> T | None:
        """The value as of this container's last `get`, without a check: for a second read within one request."""
        entry = self._entries.get(tenant_id)
        return None if entry is None else entry.value

    def changed(self, tenant_id: str) -> None:
        """Call after committing a change: every container, this one included, reloads on its next `get`."""
        self._entries.pop(tenant_id, None)
        self._counters.bump(tenant_id, self._name)

    def forget(self, tenant_id: str) -> None:
        """Drops this container's entry only; nothing is written."""
        self._entries.pop(tenant_id, None)
