"""Who did a piece of work: the owner a write is stamped with, its idempotency token, and reading a claim back.

Every AWS call can commit and then fail to answer (a lost reply, a timeout). botocore retries it, and so does the
queue, so a writer must know its own earlier writes when it meets them again. Each unit of work therefore has an
owner, derived from the work item (campaign, chunk, receive attempt, invocation): the claims it writes carry it, and
each TransactWriteItems it makes carries a `ClientRequestToken` derived from it. On DynamoDB a repeat with the same
token within 10 minutes answers as the first did; where the token is ignored (moto), the repeat fails its own
conditions, and the owner on the items tells the writer that they are its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

TOKEN_LENGTH = 36  # DynamoDB's ClientRequestToken: 1 to 36 characters

CLAIMED = "claimed"
SENT = "sent"
SKIPPED = "skipped"
FAILED = "failed"
FINAL_STATES = frozenset({SENT, SKIPPED, FAILED})


def request_token(*parts: object) -> str:
    """A ClientRequestToken for one request of a unit of work: the same parts give the same token."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:TOKEN_LENGTH]


def digest_token(request: object) -> str:
    """A ClientRequestToken that is the request's own digest: botocore's retry of it repeats the token, while any
    other request (fresh ids, a new log head, a later time) gets one of its own."""
    return request_token(json.dumps(request, sort_keys=True, default=str))


@dataclass(frozen=True)
class WorkItem:
    """One attempt at one queued piece of work: its owner string is stamped on every claim it writes."""

    scope: str  # e.g. the campaign
    unit: str  # e.g. the chunk
    attempt: int  # the queue's receive count
    request_id: str  # the invocation

    @property
    def owner(self) -> str:
        return f"{self.unit}/{self.attempt}/{self.request_id}"

    def token(self, step: str, round_: int = 0) -> str:
        """The token of one request of this work; a request that differs (a later round) gets its own."""
        return request_token(self.scope, self.unit, self.attempt, self.request_id, step, round_)


class ClaimStanding(StrEnum):
    """What a send claim found at a (campaign, contact) key means to the worker reading it."""

    FREE = "free"  # nobody has claimed it: claim it
    MINE = "mine"  # claimed by this very work (a retried write met itself): send it
    STALE = "stale"  # claimed by a worker whose lease ran out before it recorded a send: take it over
    IN_FLIGHT = "in_flight"  # claimed by another live worker: leave it, that worker finishes it
    DONE = "done"  # sent, skipped or failed already: nothing to do


def standing(claim: dict[str, Any] | None, owner: str, now: float) -> ClaimStanding:
    if claim is None:
        return ClaimStanding.FREE
    if claim.get("state") in FINAL_STATES:
        return ClaimStanding.DONE
    if claim.get("owner") == owner:
        return ClaimStanding.MINE
    if float(claim.get("lease_until", 0)) < now:
        return ClaimStanding.STALE
    return ClaimStanding.IN_FLIGHT
