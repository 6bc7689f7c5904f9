"""What one admin request has to say to the audit log, gathered while it runs.

`api.guards.guard_request` opens a `RequestAudit` around every HTTP invocation, and `api.auth.guarded` names its
route. A route or service adds to it:

    audit.note_change(svc, tenant_id, before, after, sensitive={"national_id"})   # before/after values
    audit.note_target("purpose", purpose_id)                                       # what was changed

When a write succeeds, the route's entry is recorded with them, unless the route recorded its own entries
(`audit.record`, e.g. `user.role_changed`): then those are the request's entries, and they carry the route and the
changes too. Reads are audited from the response instead (`api/shaping.py`: every contact whose data left),
unless the route recorded its own entry (an export records `contact.exported`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from samtykke.domain.audit.changes import describe_changes
from samtykke.services.context import Services


@dataclass
class RequestAudit:
    route: str | None = None
    recorded: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)
    target: tuple[str, str] | None = None


_current: ContextVar[RequestAudit | None] = ContextVar("samtykke_request_audit", default=None)


@contextmanager
def request_audit() -> Iterator[RequestAudit]:
    """One request's audit state; `api.guards.guard_request` opens it around the whole invocation."""
    token = _current.set(RequestAudit())
    try:
        current = _current.get()
        assert current is not None
        yield current
    finally:
        _current.reset(token)


def current() -> RequestAudit | None:
    return _current.get()


def mark_recorded() -> None:
    state = _current.get()
    if state is not None:
        state.recorded += 1


def note_target(kind: str, target_id: str) -> None:
    state = _current.get()
    if state is not None:
        state.target = (kind, target_id)


def note_change(
    svc: Services,
    tenant_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    sensitive: Collection[str] = (),
    prefix: str = "",
) -> list[dict[str, Any]]:
    """Adds the fields that differ between `before` and `after` to the request's entry; returns them."""
    from samtykke.services.audit import seal_value

    changes = describe_changes(before, after, sensitive=sensitive, seal=partial(seal_value, svc, tenant_id))
    if prefix:
        changes = [{**c, "field": f"{prefix}{c['field']}"} for c in changes]
    state = _current.get()
    if state is not None:
        state.changes += changes
    return changes
