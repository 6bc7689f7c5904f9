"""DynamoDB access for campaigns: the campaign item, the audience index, batched reads, send claims and records.

| item | pk | sk |
| --- | --- | --- |
| a campaign (content, status, counters, dispatch position) | `T#{tenant}#CAMPAIGN#{campaign}` | `META` |
| the tenant's campaign list (id, purpose, channel) | `T#{tenant}#CAMPAIGNS` | `{campaign}` |
| a send claim / send record (one per campaign and contact) | `T#{tenant}#C#{contact}` | `MSG#{campaign}` |
| a unit of work's count marker (expires after 14 days) | `T#{tenant}#CAMPAIGN#{campaign}` | `TALLY#{owner}` |

A live claim (`state=claimed`) also carries `gsi1pk=T#{tenant}#INFLIGHT#{campaign}`, `gsi1sk={contact}`, so the
sparse `audience` index lists a campaign's claims in flight; the record that replaces a claim drops them.

Campaign ids are time-ordered, so a contact's send records read back oldest first (the Art. 15 export lists them).
They sort between `PROFILE` and `STATE#`, so the ledger's "profile and current states" Query (`sk >= PROFILE`) reads
them too: about 400 bytes per campaign the contact was in.

Every call here is a batch where DynamoDB has one: BatchGetItem (100 keys), BatchWriteItem (25 items),
TransactWriteItems (100 actions) for claims, and ADD for counters (with a marker, in one transaction).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from samtykke.adapters import aws
from samtykke.adapters.errors import AwsUnreachable, ConditionFailed, TransactionConflict, translate_aws_errors
from samtykke.adapters.repository import ADDR, address_pk, from_attributes, send_sk, to_attributes
from samtykke.domain.errors import RetryableError
from samtykke.domain.work import CLAIMED, ClaimStanding, WorkItem, request_token, standing

AUDIENCE_INDEX = "audience"  # granted consent states only
CANDIDATES_INDEX = "candidates"  # every consent state
# Each index's partition key as `resources.TABLE` declares it (tests/unit/test_index_keys.py); spelled out so that
# functions need not build the resource specs at import.
_INDEX_KEYS = {AUDIENCE_INDEX: "gsi1pk", CANDIDATES_INDEX: "gsi2pk"}
CAMPAIGN_SK = "META"
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
TRANSACTION_LIMIT = 100
UNPROCESSED_ATTEMPTS = 6
TALLY_PREFIX = "TALLY#"  # one marker per unit of work that counted, so that a retried count adds nothing
TALLY_TTL_SECONDS = 14 * 24 * 3600

Key = tuple[str, str]  # (pk, sk)


def campaign_pk(tenant_id: str, campaign_id: str) -> str:
    return f"T#{tenant_id}#CAMPAIGN#{campaign_id}"


def campaigns_index_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#CAMPAIGNS"


ACTIVE_CAMPAIGNS = "CAMPAIGNS#ACTIVE"  # `audience`-index partition of every campaign sent and not done yet


def inflight_pk(tenant_id: str, campaign_id: str) -> str:
    """The `audience`-index partition listing a campaign's live send claims (the record that replaces one drops it)."""
    return f"T#{tenant_id}#INFLIGHT#{campaign_id}"


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter, not crypto


@dataclass(frozen=True)
class Claim:
    """A conditional put of a send claim or skip record: it lands only if nobody holds the (campaign, contact) key."""

    key: Key
    item: dict[str, Any]


@dataclass(frozen=True)
class Claimed:
    """What a claim transaction found: the keys now the work's, those of them it took over from a dead worker, and
    the item holding each of the others (a send record, or another worker's live claim)."""

    ours: set[Key]
    taken_over: set[Key]
    held: dict[Key, dict[str, Any]]


class CampaignRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    # --- the campaign item ---------------------------------------------------------------------------

    def create(self, item: dict[str, Any]) -> None:
        """The campaign and its entry in the tenant's campaign list, in one transaction."""
        entry = {
            "pk": campaigns_index_pk(item["tenant_id"]),
            "sk": item["campaign_id"],
            "purpose": item["purpose"],
            "channel": item["channel"],
        }
        puts = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_attributes(row),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for row in (item, entry)
        ]
        try:
            with translate_aws_errors():
                aws.dynamodb().transact_write_items(
                    TransactItems=puts,  # type: ignore[arg-type]
                    ClientRequestToken=request_token("campaign", item["tenant_id"], item["campaign_id"]),
                )
        except (TransactionConflict, AwsUnreachable):
            # The id is new and random: if the campaign is there, it is this very write, whose answer was lost.
            if self.get(item["tenant_id"], item["campaign_id"]) is None:
                raise

    def list_page(
        self, tenant_id: str, *, limit: int, start: dict[str, Any] | None, filters: Mapping[str, str]
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Campaign ids, newest first, matching every filter (purpose, channel); and where the next page starts.

        A filtered page may hold fewer than `limit` ids (DynamoDB filters after it reads); follow the cursor.
        """
        names = {f"#{name}": name for name in filters}
        values = {":pk": campaigns_index_pk(tenant_id)} | {f":{name}": value for name, value in filters.items()}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_attributes(values),
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": limit,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(f"#{name} = :{name}" for name in filters)
            request["ExpressionAttributeNames"] = names
        if start:
            request["ExclusiveStartKey"] = to_attributes(start)
        with translate_aws_errors():
            page = aws.dynamodb().query(**request)
        last = page.get("LastEvaluatedKey")
        return [from_attributes(row)["sk"] for row in page.get("Items", [])], from_attributes(last) if last else None

    def delete(self, tenant_id: str, campaign_id: str) -> None:
        keys = [(campaign_pk(tenant_id, campaign_id), CAMPAIGN_SK), (campaigns_index_pk(tenant_id), campaign_id)]
        for pk, sk in keys:
            with translate_aws_errors():
                aws.dynamodb().delete_item(TableName=self.table_name, Key=to_attributes({"pk": pk, "sk": sk}))

    def get(self, tenant_id: str, campaign_id: str) -> dict[str, Any] | None:
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": campaign_pk(tenant_id, campaign_id), "sk": CAMPAIGN_SK}),
                ConsistentRead=True,
            )
        item = result.get("Item")
        return from_attributes(item) if item else None

    def _conditional_update(
        self,
        tenant_id: str,
        campaign_id: str,
        expression: str,
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
    ) -> bool:
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": campaign_pk(tenant_id, campaign_id), "sk": CAMPAIGN_SK}),
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=dict(names),
                    ExpressionAttributeValues=to_attributes(values),
                )
        except ConditionFailed:
            return False
        return True

    def set_status(
        self, tenant_id: str, campaign_id: str, *, expected: str, new: str, changes: Mapping[str, Any]
    ) -> bool:
        """Moves the campaign from status `expected` to `new`, setting `changes`; False if it was not `expected`."""
        present = {k: v for k, v in changes.items() if v is not None}
        sets = ["#status = :new", *(f"#f{i} = :f{i}" for i in range(len(present)))]
        names = {"#status": "status", **{f"#f{i}": name for i, name in enumerate(present)}}
        values = {":new": new, ":expected": expected, **{f":f{i}": v for i, v in enumerate(present.values())}}
        return self._conditional_update(
            tenant_id, campaign_id, "SET " + ", ".join(sets), "#status = :expected", names, values
        )

    def advance_dispatch(
        self,
        tenant_id: str,
        campaign_id: str,
        *,
        expected_page: int,
        queued: int,
        done: bool,
        status: str,
        owner: str,
        next_start: str | None,
        at: str,
    ) -> bool:
        """Records one dispatched page: only the dispatcher holding page `expected_page` wins (duplicates lose).

        The campaign keeps where the next page starts (`dispatch_start_key`, JSON) and who recorded the last one, so
        the reconciler can resume a dispatch that stalled, and a retried update that committed before its reply was
        lost knows its own write.
        """
        expression = (
            "SET dispatch_page = :next, dispatch_done = :done, #status = :status, dispatch_owner = :owner,"
            " dispatch_at = :at, dispatch_start_key = :start ADD n_queued :queued"
        )
        values = {":next": expected_page + 1, ":page": expected_page, ":done": done, ":status": status}
        values |= {":queued": queued, ":owner": owner, ":at": at, ":start": next_start or ""}
        if self._conditional_update(
            tenant_id, campaign_id, expression, "dispatch_page = :page", {"#status": "status"}, values
        ):
            return True
        item = self.get(tenant_id, campaign_id) or {}
        return int(item.get("dispatch_page", -1)) == expected_page + 1 and item.get("dispatch_owner") == owner

    def finish(self, tenant_id: str, campaign_id: str, *, expected: str, at: str) -> bool:
        """Writes `done` on a campaign whose recipients are all accounted for, and takes it off the active list."""
        return self._conditional_update(
            tenant_id,
            campaign_id,
            "SET #status = :done, done_at = :at REMOVE gsi1pk, gsi1sk",
            "#status = :expected",
            {"#status": "status"},
            {":done": "done", ":at": at, ":expected": expected},
        )

    def add_counts(self, tenant_id: str, campaign_id: str, counts: Mapping[str, int]) -> None:
        """Atomic ADD of progress counters (`n_sent`, `n_skip_<reason>`...); zero counts are left out."""
        present = {name: n for name, n in counts.items() if n}
        if not present:
            return
        names = {f"#c{i}": name for i, name in enumerate(present)}
        values = {f":c{i}": n for i, n in enumerate(present.values())}
        with translate_aws_errors():
            aws.dynamodb().update_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": campaign_pk(tenant_id, campaign_id), "sk": CAMPAIGN_SK}),
                UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(present))),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_attributes(values),
            )

    # --- the audience index --------------------------------------------------------------------------

    def index_page(
        self, index: str, partition: str, start_key: dict[str, Any] | None = None, *, limit: int | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One Query page (up to 1 MB) of an index partition, and the key to continue from (None at the end)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": _INDEX_KEYS[index]},
            "ExpressionAttributeValues": to_attributes({":p": partition}),
        }
        if start_key:
            request["ExclusiveStartKey"] = start_key
        if limit:
            request["Limit"] = limit
        with translate_aws_errors():
            page = aws.dynamodb().query(**request)
        return [from_attributes(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")

    def index_members(self, index: str, partition: str) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            items, start = self.index_page(index, partition, start)
            yield from items
            if start is None:
                return

    # --- batched reads and writes --------------------------------------------------------------------

    def batch_get(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """Strongly consistent BatchGetItem, 100 keys a call, retrying unprocessed keys. Missing items are absent."""
        wanted = list(dict.fromkeys(keys))
        found: dict[Key, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [to_attributes({"pk": pk, "sk": sk}) for pk, sk in wanted[start : start + BATCH_GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(UNPROCESSED_ATTEMPTS):
                with translate_aws_errors():
                    result = aws.dynamodb().batch_get_item(RequestItems=request)
                for raw in result.get("Responses", {}).get(self.table_name, []):
                    item = from_attributes(raw)
                    found[(item["pk"], item["sk"])] = item
                request = dict(result.get("UnprocessedKeys") or {})
                if not request:
                    break
                _backoff(attempt)
            else:
                raise RetryableError("DynamoDB left keys unprocessed; retry", code="throttled")
        return found

    def batch_write(self, puts: Iterable[dict[str, Any]] = (), deletes: Iterable[Key] = ()) -> None:
        """BatchWriteItem, 25 a call, retrying unprocessed items. Unconditional: use it for items this code owns."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": to_attributes(item)}} for item in puts]
        requests += [{"DeleteRequest": {"Key": to_attributes({"pk": pk, "sk": sk})}} for pk, sk in deletes]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table_name: requests[start : start + BATCH_WRITE_LIMIT]}
            for attempt in range(UNPROCESSED_ATTEMPTS):
                with translate_aws_errors():
                    result = aws.dynamodb().batch_write_item(RequestItems=pending)
                pending = dict(result.get("UnprocessedItems") or {})
                if not pending:
                    break
                _backoff(attempt)
            else:
                raise RetryableError("DynamoDB left writes unprocessed; retry", code="throttled")

    def claim(self, claims: list[Claim], *, work: WorkItem, now: int) -> Claimed:
        """Puts each claim in one transaction (<= 100) where no item holds its key, and answers who holds each key.

        Nothing is read first: a claim whose condition fails brings back the item that holds the key
        (`ReturnValuesOnConditionCheckFailure=ALL_OLD`). If that item is this very claim (same owner and state), an
        earlier round of this work committed and its reply was lost: the key is ours. If it is a claim whose lease ran
        out (its worker died), the next round takes it over. Anything else (a record, another worker's live claim) is
        answered in `held`. A cancelled transaction writes nothing, so each round puts again the claims still open: a
        chunk that overlaps earlier or other work costs one more round, and still claims what is free. Each round
        carries its own ClientRequestToken, so DynamoDB answers botocore's retry of a committed round as a success
        instead of applying it again.
        """
        if len(claims) > TRANSACTION_LIMIT:
            raise ValueError(f"at most {TRANSACTION_LIMIT} claims per transaction")
        remaining, ours, expired, held = list(claims), set[Key](), set[Key](), dict[Key, dict[str, Any]]()
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if not remaining:
                break
            actions = [self._claim_action(claim, take_over=claim.key in expired, now=now) for claim in remaining]
            try:
                with translate_aws_errors():
                    aws.dynamodb().transact_write_items(
                        TransactItems=actions,  # type: ignore[arg-type]
                        ClientRequestToken=work.token("claim", attempt),
                    )
            except TransactionConflict as exc:
                still = []
                for i, claim in enumerate(remaining):
                    raw = exc.item_at(i) if exc.failed_at(i) else None
                    found = from_attributes(raw) if raw else None
                    if found is None:
                        still.append(claim)  # not its condition that failed (or the item went): put it again
                    elif found.get("owner") == work.owner and found.get("state") == claim.item["state"]:
                        ours.add(claim.key)
                    elif standing(found, work.owner, now) is ClaimStanding.STALE:
                        expired.add(claim.key)
                        still.append(claim)
                    else:
                        held[claim.key] = found
                remaining = still
                if remaining:
                    _backoff(attempt)
                continue
            except AwsUnreachable:
                _backoff(attempt)  # maybe committed: the next round meets its own claims and knows them
                continue
            ours |= {claim.key for claim in remaining}
            remaining = []
        if remaining:
            raise RetryableError("Send claims kept conflicting; retry", code="contention")
        return Claimed(ours=ours, taken_over=ours & expired, held=held)

    def _claim_action(self, claim: Claim, *, take_over: bool, now: int) -> dict[str, Any]:
        """A claim's Put: where no item is, or, when `take_over`, also over a claim whose lease ran out."""
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": to_attributes(claim.item),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if take_over:
            put["ConditionExpression"] += " OR (#state = :claimed AND lease_until < :now)"
            put["ExpressionAttributeNames"] = {"#state": "state"}
            put["ExpressionAttributeValues"] = to_attributes({":claimed": CLAIMED, ":now": now})
        return {"Put": put}

    def record_once(
        self,
        tenant_id: str,
        campaign_id: str,
        counts: Mapping[str, int],
        *,
        work: WorkItem,
        puts: Sequence[dict[str, Any]] = (),
        deletes: Sequence[Key] = (),
        pace: Mapping[str, Any] | None = None,
    ) -> bool:
        """Writes a unit of work's send records (`puts`, `deletes`: its claims turned into records, or given back)
        and ADDs `counts` to the campaign's counters, once; False if `work` had recorded already.
        `pace`, if given, is SET as the campaign's `ses_pace` in the same update (the sender's view of SES's quota).

        One transaction: the records, the counters' ADD and a marker item for the work (`TALLY#{owner}`, expiring),
        put only if absent. A retried transaction that committed before its reply was lost finds its own marker and
        writes nothing again. So the records and the counts never disagree, and a chunk of 50 costs one call. Work
        too big for one transaction writes its records first (idempotent puts and deletes), then counts.
        """
        if len(puts) + len(deletes) + 2 > TRANSACTION_LIMIT or not any(counts.values()):
            self.batch_write(puts, deletes)
            puts, deletes = (), ()
        present = {name: n for name, n in counts.items() if n}
        if not present:
            return True
        pk = campaign_pk(tenant_id, campaign_id)
        names = {f"#c{i}": name for i, name in enumerate(present)}
        values: dict[str, Any] = {f":c{i}": n for i, n in enumerate(present.values())}
        update = "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(present)))
        if pace is not None:
            names["#pace"], values[":pace"] = "ses_pace", dict(pace)
            update += " SET #pace = :pace"
        marker = {"pk": pk, "sk": f"{TALLY_PREFIX}{work.owner}", "expires_at": int(time.time()) + TALLY_TTL_SECONDS}
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_attributes(marker | {"counts": present}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": to_attributes({"pk": pk, "sk": CAMPAIGN_SK}),
                    "UpdateExpression": update,
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_attributes(values),
                }
            },
            *({"Put": {"TableName": self.table_name, "Item": to_attributes(item)}} for item in puts),
            *(
                {"Delete": {"TableName": self.table_name, "Key": to_attributes({"pk": k[0], "sk": k[1]})}}
                for k in deletes
            ),
        ]
        for attempt in range(UNPROCESSED_ATTEMPTS):
            try:
                with translate_aws_errors():
                    aws.dynamodb().transact_write_items(
                        TransactItems=actions,  # type: ignore[arg-type]
                        ClientRequestToken=work.token("count", attempt),
                    )
            except TransactionConflict as exc:
                if exc.failed_at(0):
                    return False  # counted by this work already
                if exc.failed_at(1):
                    return False  # the campaign is gone
                _backoff(attempt)  # another transaction on the campaign item at the same moment
                continue
            except AwsUnreachable:
                _backoff(attempt)  # maybe committed: the next round finds its marker
                continue
            return True
        raise RetryableError("The campaign's counters kept conflicting; retry", code="contention")

    # --- feedback on addresses and sends -------------------------------------------------------------

    def count_soft_bounce(self, tenant_id: str, blind_index: str, feedback_id: str) -> int | None:
        """Counts one transient bounce on an email address; None if this feedback id was counted already."""
        try:
            with translate_aws_errors():
                result = aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": address_pk(tenant_id, "email", blind_index), "sk": ADDR}),
                    UpdateExpression=(
                        "ADD soft_bounces :one SET last_soft_bounce = :fid, kind = if_not_exists(kind, :kind)"
                    ),
                    ConditionExpression="attribute_not_exists(last_soft_bounce) OR last_soft_bounce <> :fid",
                    ExpressionAttributeValues=to_attributes({":one": 1, ":fid": feedback_id, ":kind": "email"}),
                    ReturnValues="UPDATED_NEW",
                )
        except ConditionFailed:
            return None
        return int(from_attributes(result["Attributes"])["soft_bounces"])

    def count_address_feedback(self, tenant_id: str, blind_index: str, counter: str, feedback_id: str) -> bool:
        """Counts a hard bounce or complaint on the address (`hard_bounces`, `complaints`), once per feedback id."""
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": address_pk(tenant_id, "email", blind_index), "sk": ADDR}),
                    UpdateExpression="ADD #counter :one SET #last = :fid, kind = if_not_exists(kind, :kind)",
                    ConditionExpression="attribute_not_exists(#last) OR #last <> :fid",
                    ExpressionAttributeNames={"#counter": counter, "#last": f"last_{counter}"},
                    ExpressionAttributeValues=to_attributes({":one": 1, ":fid": feedback_id, ":kind": "email"}),
                )
        except ConditionFailed:
            return False
        return True

    def mark_send(self, contact_pk: str, campaign_id: str, attribute: str, value: str) -> bool:
        """Sets `attribute` (e.g. `bounced_at`) on a send record once; False if the record is missing or already set."""
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": contact_pk, "sk": send_sk(campaign_id)}),
                    UpdateExpression="SET #a = :v",
                    ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#a)",
                    ExpressionAttributeNames={"#a": attribute},
                    ExpressionAttributeValues=to_attributes({":v": value}),
                )
        except ConditionFailed:
            return False
        return True
