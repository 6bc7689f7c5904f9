"""The DynamoDB repository: samtykke's single table, its key design, and the transactional ledger write.

Key design (docs/architecture.md's data-model table mirrors this):

| item | pk | sk |
| --- | --- | --- |
| tenant settings | `T#{tenant}` | `META` |
| purpose / source / legal-basis label | `T#{tenant}` | `PURPOSE#{id}` / `SOURCE#{id}` / `BASIS#{code}` |
| consent text version | `T#{tenant}` | `TEXT#{purpose}#{locale}#{version:05d}` |
| API key (by hash) | `K#{sha256(key)}` | `KEY` |
| contact profile and log head | `T#{tenant}#C#{contact}` | `PROFILE` |
| consent event | `T#{tenant}#C#{contact}` | `EVENT#{seq:010d}` |
| consent state | `T#{tenant}#C#{contact}` | `STATE#{purpose}#{channel}` |
| send record (campaign, consent event relied on, provider message id) | `T#{tenant}#C#{contact}` | `MSG#{campaign}` |
| address index (blind) | `T#{tenant}#A#{email or phone}#{hmac}` | `ADDR` |
| a staff lift of its suppression (90 days) | `T#{tenant}#A#{email or phone}#{hmac}` | `LIFT#{key}` |

A tenant's whole configuration is one partition (one Query loads it), and a contact's whole history is
another. Granted consent states also carry `gsi1pk = T#{tenant}#AUD#{purpose}#{channel}`: the sparse
audience index that campaigns page through. An address item that was ever suppressed also carries
`gsi3pk = T#{tenant}#SUPPRESSED`, `gsi3sk = {kind}#{hmac}`: the `directory` index lists the tenant's suppressed
addresses (services/governance/suppressions.py; one whose suppressions were all lifted stays listed, empty).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from samtykke.adapters import aws
from samtykke.adapters.errors import ConditionFailed, TransactionConflict, translate_aws_errors
from samtykke.console.aggregates import Tally, combine
from samtykke.domain.consent import ConsentStatus
from samtykke.domain.errors import Conflict, RetryableError
from samtykke.domain.work import digest_token

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

META = "META"
PROFILE = "PROFILE"
ADDR = "ADDR"
KEY = "KEY"
COUNTERS_RUN = "backfill_run"  # on a counter item: the last backfill run that corrected it (never a count)


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def counter_key(tenant_id: str, name: str) -> dict[str, str]:
    """A per-tenant change counter's item (adapters/change_counters.py)."""
    return {"pk": tenant_pk(tenant_id), "sk": f"VERSION#{name}"}


def contact_pk(tenant_id: str, contact_id: str) -> str:
    return f"T#{tenant_id}#C#{contact_id}"


def address_pk(tenant_id: str, kind: str, blind_index: str) -> str:
    return f"T#{tenant_id}#A#{kind}#{blind_index}"


def suppressed_pk(tenant_id: str) -> str:
    """The `directory` index partition of a tenant's suppressed addresses."""
    return f"T#{tenant_id}#SUPPRESSED"


def lift_sk(key: str) -> str:
    return f"LIFT#{key}"


def api_key_pk(key_hash: str) -> str:
    return f"K#{key_hash}"


def event_sk(seq: int) -> str:
    return f"EVENT#{seq:010d}"


# Send records sort before PROFILE, so that loading a contact's head and states (`sk >= PROFILE`) never reads them.
SEND_PREFIX = "MSG#"


def send_sk(campaign_id: str) -> str:
    return f"{SEND_PREFIX}{campaign_id}"


def state_sk(purpose: str, channel: str) -> str:
    return f"STATE#{purpose}#{channel}"


def audience_pk(tenant_id: str, purpose: str, channel: str) -> str:
    return f"T#{tenant_id}#AUD#{purpose}#{channel}"


def candidates_pk(tenant_id: str, purpose: str, channel: str) -> str:
    """The `candidates` index: every consent state (any status) for a purpose and channel, so a campaign's dry run
    can count who is excluded and why (withdrawn, pending...), and a transactional send can reach them."""
    return f"T#{tenant_id}#CAND#{purpose}#{channel}"


def pending_pk(day: str) -> str:
    """The sparse `audience` index also lists pending double opt-ins, one partition per day (`yyyy-mm-dd`),
    so that the retention sweeper finds the ones past their tenant's TTL without a scan."""
    return f"PENDING#{day}"


def text_sk(purpose: str, locale: str, version: int) -> str:
    return f"TEXT#{purpose}#{locale}#{version:05d}"


def to_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals and Binary wrappers as plain ints and bytes (we never store floats)."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, Binary):
        return value.value  # type: ignore[attr-defined]  # the stubs omit Binary.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def from_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in attributes.items()}


def _set_expression(changes: Mapping[str, Any], extra_values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`UpdateExpression` SET clauses for the non-None `changes`, with placeholder names and values."""
    present = [(name, value) for name, value in changes.items() if value is not None]
    names = {f"#a{i}": name for i, (name, _) in enumerate(present)}
    values = {f":v{i}": value for i, (_, value) in enumerate(present)} | dict(extra_values or {})
    return {
        "UpdateExpression": "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_attributes(values),
    }


def _also_set(action: dict[str, Any], attribute: str, value: Any) -> dict[str, Any]:
    """An Update action that also sets `attribute` (one action per item: a transaction may touch an item once)."""
    update = dict(action["Update"])
    clause = "#also = :also"
    expression = update["UpdateExpression"]
    update["UpdateExpression"] = (
        expression.replace("SET ", f"SET {clause}, ", 1) if "SET " in expression else f"SET {clause} {expression}"
    )
    update["ExpressionAttributeNames"] = {**update.get("ExpressionAttributeNames", {}), "#also": attribute}
    update["ExpressionAttributeValues"] = {
        **update.get("ExpressionAttributeValues", {}),
        **to_attributes({":also": value}),
    }
    return {"Update": update}


def _listing(tenant_id: str, kind: str, blind_index: str) -> tuple[str, str]:
    """Where a suppressed address is listed in the `directory` index."""
    return suppressed_pk(tenant_id), f"{kind}#{blind_index}"


class AlreadyExists(Conflict):
    code = "already_exists"


class AddressTaken(Conflict):
    """The address is already indexed to a contact: the writer must load that contact and try again."""

    code = "address_taken"


class ContactChanged(Conflict):
    """Another writer appended to the contact's log first: reload and try again."""

    code = "contact_changed"


class CounterMoved(Conflict):
    """The change counter the write was conditioned on has moved: what the caller cached is out of date."""

    code = "counter_moved"


class AddressNotOwned(Conflict):
    """The address item the write copies the contact's head to points at another contact (or none)."""

    code = "address_not_owned"


class AlreadyApplied(Conflict):
    """The write's receipt exists: the request it carries out was applied before, so nothing was written."""

    code = "already_applied"


@dataclass(frozen=True)
class SuppressionChange:
    """Sets (record) or lifts (None) one suppression."""

    key: str
    record: dict[str, Any] | None


@dataclass(frozen=True)
class SuppressionWrite:
    """Sets (record) or lifts (None) one suppression on an address the contact already owns."""

    kind: str
    blind_index: str
    key: str
    record: dict[str, Any] | None


def put_new_item(table_name: str, item: dict[str, Any]) -> None:
    """Creates an item that must not exist yet (`AlreadyExists` if one does).

    An item in place that is exactly this one is this write's own: botocore repeated a put whose answer was lost
    (the items callers create carry fresh random ids or times), so that counts as done.
    """
    attributes = to_attributes(item)
    try:
        with translate_aws_errors():
            aws.dynamodb().put_item(
                TableName=table_name,
                Item=attributes,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
    except ConditionFailed as exc:
        if exc.item != attributes:
            raise AlreadyExists("It already exists") from exc


@dataclass
class ContactWrite:
    """One atomic change to a contact: its profile/log head, new address indexes, events and states."""

    tenant_id: str
    contact_id: str
    expected_seq: int | None  # None: the contact is new
    profile: dict[str, Any]
    new_addresses: list[tuple[str, str]] = field(default_factory=list)  # (kind, blind index)
    suppressions: list[SuppressionWrite] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    # An item that records the request this write carries out (say, a provider's message id). It is written only
    # if absent, in the same transaction, so a redelivered request changes nothing (`AlreadyApplied`).
    receipt: dict[str, Any] | None = None
    # The dashboard's daily counters for these events (console/aggregates.py), added in the same transaction.
    tally: Tally | None = None
    # A write without events (a staff edit of the profile) leaves `seq` as it is, so it counts `profile_rev` up
    # and is guarded by the count it read (0: none yet): a concurrent edit makes it fail, never overwrites it.
    expected_profile_rev: int | None = None
    # A change counter (name, value) the caller's cached configuration was loaded at: the write commits only while
    # it is still at that value (`CounterMoved` otherwise), which spares the caller reading it first.
    counter_at: tuple[str, int] | None = None
    # Each state written replaces one that exists and is not withdrawn (a withdrawal decided without a read).
    states_not_withdrawn: bool = False
    # Attributes the profile item must still hold (`last_hash`, `email_bidx`…): for a write decided on a copy of
    # the head rather than on a read of it.
    head_guard: dict[str, Any] = field(default_factory=dict)
    # (blind index, copy): the contact's log head, copied onto its phone's address item in the same transaction, so
    # that a STOP from the number is decided without reading the contact (services/sms_inbound.py).
    phone_head: tuple[str, dict[str, Any]] | None = None


class ConsentRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    # --- generic reads -------------------------------------------------------------------------------

    def get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        with translate_aws_errors():
            result = aws.dynamodb().get_item(
                TableName=self.table_name,
                Key=to_attributes({"pk": pk, "sk": sk}),
                ConsistentRead=consistent,
            )
        item = result.get("Item")
        return from_attributes(item) if item else None

    def query_partition(self, pk: str, *, sk_from: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of one partition, in key order, following pages; optionally only `sk >= sk_from`."""
        condition = "pk = :pk" + (" AND sk >= :from" if sk_from else "")
        values: dict[str, Any] = {":pk": pk} | ({":from": sk_from} if sk_from else {})
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_attributes(values),
            "ConsistentRead": True,
        }
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().query(**request)
            yield from (from_attributes(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- tenant configuration ------------------------------------------------------------------------

    def create_tenant(self, items: list[dict[str, Any]]) -> None:
        """Writes a tenant's META item and its starting catalogue atomically; fails if the tenant exists."""
        actions: list[TransactWriteItemTypeDef] = []
        for item in items:
            put: dict[str, Any] = {"TableName": self.table_name, "Item": to_attributes(item)}
            if item["sk"] == META:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            actions.append({"Put": put})  # type: ignore[typeddict-item]
        try:
            self._transact(actions)
        except TransactionConflict as exc:
            raise AlreadyExists(f"Tenant {items[0]['pk'][2:]} already exists") from exc

    def put(self, item: dict[str, Any]) -> None:
        with translate_aws_errors():
            aws.dynamodb().put_item(TableName=self.table_name, Item=to_attributes(item))

    def put_new(self, item: dict[str, Any]) -> None:
        put_new_item(self.table_name, item)

    def update_existing(self, pk: str, sk: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Sets attributes on an existing item and returns it, or None if there is no such item."""
        try:
            with translate_aws_errors():
                result = aws.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=to_attributes({"pk": pk, "sk": sk}),
                    ConditionExpression="attribute_exists(pk)",
                    ReturnValues="ALL_NEW",
                    **_set_expression(changes),
                )
        except ConditionFailed:
            return None
        return from_attributes(result["Attributes"])

    # --- contacts and the consent ledger -------------------------------------------------------------

    def get_address(self, tenant_id: str, kind: str, blind_index: str) -> dict[str, Any] | None:
        """The address item: the contact it belongs to (if any) and its suppressions."""
        return self.get(address_pk(tenant_id, kind, blind_index), ADDR, consistent=True)

    def set_address_suppression(
        self, tenant_id: str, kind: str, blind_index: str, key: str, record: dict[str, Any] | None
    ) -> None:
        """Sets (or, with None, lifts) a suppression on any address, owned by a contact or not.

        Outside a consent change: for STOPs from unknown numbers, bounces, complaints and erasure. The
        address item is created if it does not exist, keeping any contact it already points at.
        """
        self.change_address_suppressions(tenant_id, kind, blind_index, [SuppressionChange(key, record)])

    def change_address_suppressions(
        self,
        tenant_id: str,
        kind: str,
        blind_index: str,
        changes: list[SuppressionChange],
        receipt: dict[str, Any] | None = None,
    ) -> None:
        """Sets and lifts suppressions on any address in one write, with the request's receipt if given.

        With a receipt, the changes and the receipt commit together or not at all (`AlreadyApplied` if the
        receipt exists). Lifting from an address that has no suppressions changes nothing.
        """
        pk = address_pk(tenant_id, kind, blind_index)
        sets = {change.key: change.record for change in changes if change.record is not None}
        listing = _listing(tenant_id, kind, blind_index)
        for _ in range(2):
            for map_exists in (True, False):
                update: dict[str, Any] | None = None  # nothing to change, or nothing to lift from an empty address
                if map_exists and changes:
                    update = self._suppressions_update(pk, changes, "attribute_exists(suppressions)", {}, listing)
                elif not map_exists and sets:
                    update = {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": to_attributes({"pk": pk, "sk": ADDR}),
                            "ConditionExpression": "attribute_not_exists(suppressions)",
                            "UpdateExpression": "SET suppressions = :map, kind = :kind, gsi3pk = :lp, gsi3sk = :ls",
                            "ExpressionAttributeValues": to_attributes(
                                {":map": sets, ":kind": kind, ":lp": listing[0], ":ls": listing[1]}
                            ),
                        }
                    }
                try:
                    self._write_once([update] if update else [], receipt)
                    return
                except ConditionFailed:
                    continue  # the map is there, or not, after all: try the other form
            # another writer made the map between our two forms: once more, from the top
        raise RetryableError("The address changed concurrently; retry", code="contention")

    def _write_once(self, actions: list[dict[str, Any]], receipt: dict[str, Any] | None) -> None:
        """`actions` and the receipt in one call: a transaction with a receipt, else the single action alone."""
        if receipt is None:
            if actions:
                with translate_aws_errors():
                    aws.dynamodb().update_item(**actions[0]["Update"])
            return
        try:
            self._transact([*actions, self._receipt_put(receipt)])  # type: ignore[list-item]
        except TransactionConflict as exc:
            if exc.failed_at(len(actions)):
                raise AlreadyApplied("This request was applied before") from exc
            raise ConditionFailed("The address changed concurrently") from exc

    def lift_address_suppression(
        self, tenant_id: str, kind: str, blind_index: str, key: str, expected: dict[str, Any], lift: dict[str, Any]
    ) -> bool:
        """Lifts one suppression if it is still the `expected` record, and keeps the `lift` beside the address
        (`LIFT#{key}`), in one transaction. False, writing nothing, if the suppression changed or went meanwhile."""
        pk = address_pk(tenant_id, kind, blind_index)
        remove = {
            "Update": {
                "TableName": self.table_name,
                "Key": to_attributes({"pk": pk, "sk": ADDR}),
                "ConditionExpression": "suppressions.#k = :expected",
                "UpdateExpression": "REMOVE suppressions.#k",
                "ExpressionAttributeNames": {"#k": key},
                "ExpressionAttributeValues": to_attributes({":expected": expected}),
            }
        }
        try:
            self._transact([remove, self._put({"pk": pk, "sk": lift_sk(key), **lift}, None)])  # type: ignore[list-item]
        except TransactionConflict as exc:
            if exc.failed_at(0):
                return False
            raise
        return True

    def find_contact_id(self, tenant_id: str, kind: str, blind_index: str) -> str | None:
        item = self.get_address(tenant_id, kind, blind_index)
        return None if item is None else item.get("contact_id")

    def load_contact_head(self, tenant_id: str, contact_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The profile (with the log head) and the current consent states, in one Query."""
        profile, states = None, []
        for item in self.query_partition(contact_pk(tenant_id, contact_id), sk_from=PROFILE):
            if item["sk"] == PROFILE:
                profile = item
            elif item["sk"].startswith("STATE#"):
                states.append(item)
        return profile, states

    def load_contact(self, tenant_id: str, contact_id: str) -> list[dict[str, Any]]:
        return list(self.query_partition(contact_pk(tenant_id, contact_id)))

    def write_contact(self, change: ContactWrite) -> None:
        """Appends events and moves states in one transaction, guarded by the log head's sequence number.

        A concurrent writer makes the head condition fail (`ContactChanged`); an address that another
        contact already owns makes its index condition fail (`AddressTaken`); an existing receipt makes its
        own fail (`AlreadyApplied`). Whichever it is, nothing is written.
        """
        actions, address_positions, head_copy_at = self._contact_actions(change)
        if change.tally is not None:
            actions.append(self._counter_add(change.tally))
        if change.counter_at is not None:
            actions.append(self._counter_unchanged(change.tenant_id, *change.counter_at))
        if change.receipt is not None:
            actions.append(self._receipt_put(change.receipt))
        try:
            self._transact(actions)  # type: ignore[arg-type]
        except TransactionConflict as exc:
            if change.receipt is not None and exc.failed_at(len(actions) - 1):
                raise AlreadyApplied("This request was applied before") from exc
            if change.counter_at is not None and exc.failed_at(len(actions) - 1 - (change.receipt is not None)):
                raise CounterMoved("The configuration changed since it was cached") from exc
            if any(exc.failed_at(i) for i in address_positions):
                raise AddressTaken("The address belongs to a contact already") from exc
            if head_copy_at is not None and exc.failed_at(head_copy_at):
                raise AddressNotOwned("The phone's address item is not the contact's") from exc
            raise ContactChanged("The contact changed concurrently") from exc

    def write_contacts(self, changes: list[ContactWrite]) -> None:
        """Several contacts' writes in one transaction (at most 100 actions in all): all of them or none.

        For bulk creation of new contacts (imports). Any failed condition raises `ContactChanged`, and the caller
        falls back to writing them one by one, which tells an address taken from a concurrent change.
        """
        actions = [action for change in changes for action in self._contact_actions(change)[0]]
        actions += [self._counter_add(one) for one in combine(change.tally for change in changes)]
        try:
            self._transact(actions)  # type: ignore[arg-type]
        except TransactionConflict as exc:
            raise ContactChanged("A contact or address in the batch changed concurrently") from exc

    def _contact_actions(self, change: ContactWrite) -> tuple[list[dict[str, Any]], range, int | None]:
        """The transaction actions of one contact write, the positions of its address claims, and the position of
        the update that only copies the head to the phone's address item, if it has one of its own."""
        from samtykke.adapters.contact_directory import directory_attributes  # it builds on this module

        pk = contact_pk(change.tenant_id, change.contact_id)
        profile = {"pk": pk, "sk": PROFILE, **change.profile}
        actions: list[dict[str, Any]] = []
        if change.expected_seq is None:
            profile |= directory_attributes(change.tenant_id, change.contact_id, str(change.profile["created_at"]))
            actions.append(self._put(profile, "attribute_not_exists(pk)"))
        else:
            actions.append(
                self._update_head(
                    pk, change.profile, change.expected_seq, change.expected_profile_rev, change.head_guard
                )
            )
        phone_key = ("phone", change.phone_head[0]) if change.phone_head else None
        copied = False

        def with_copy(key: tuple[str, str], action: dict[str, Any]) -> dict[str, Any]:
            nonlocal copied
            if change.phone_head is not None and key == phone_key:
                copied = True
                return _also_set(action, "head", change.phone_head[1])
            return action

        address_positions = range(len(actions), len(actions) + len(change.new_addresses))
        for kind, blind_index in change.new_addresses:
            claim = self._claim_address(address_pk(change.tenant_id, kind, blind_index), kind, change.contact_id)
            actions.append(with_copy((kind, blind_index), claim))
        by_address: dict[tuple[str, str], list[SuppressionWrite]] = {}
        for suppression in change.suppressions:
            by_address.setdefault((suppression.kind, suppression.blind_index), []).append(suppression)
        for (kind, blind_index), writes in by_address.items():
            address = address_pk(change.tenant_id, kind, blind_index)
            listing = _listing(change.tenant_id, kind, blind_index)
            update = self._suppressions_update(address, writes, "contact_id = :c", {":c": change.contact_id}, listing)
            actions.append(with_copy((kind, blind_index), update))
        head_copy_at = None
        if change.phone_head is not None and not copied:
            head_copy_at = len(actions)
            actions.append(self._copy_head(change.tenant_id, change.contact_id, *change.phone_head))
        for event in change.events:
            actions.append(self._put({"pk": pk, "sk": event_sk(event["seq"]), **event}, "attribute_not_exists(pk)"))
        for state in change.states:
            put = self._put({"pk": pk, **state}, None)
            if change.states_not_withdrawn:
                put["Put"] |= {
                    "ConditionExpression": "attribute_exists(pk) AND #status <> :withdrawn",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": to_attributes({":withdrawn": ConsentStatus.WITHDRAWN.value}),
                }
            actions.append(put)
        return actions, address_positions, head_copy_at

    # --- API keys ------------------------------------------------------------------------------------

    def get_api_key(self, key_hash: str) -> dict[str, Any] | None:
        return self.get(api_key_pk(key_hash), KEY)

    def put_api_key(self, key_hash: str, item: dict[str, Any]) -> None:
        self.put_new({"pk": api_key_pk(key_hash), "sk": KEY, **item})

    # --- the dashboard's counters --------------------------------------------------------------------

    def scan_events(self, tenant_id: str, since: str, until: str) -> Iterator[dict[str, Any]]:
        """Every consent event of the tenant with `since <= at < until`: a Scan of the whole table, for the
        operator's tools only (no function is granted Scan). Strongly consistent, following pages."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(pk, :contacts) AND begins_with(sk, :event) AND #at >= :since "
            "AND #at < :until",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": to_attributes(
                {":contacts": contact_pk(tenant_id, ""), ":event": "EVENT#", ":since": since, ":until": until}
            ),
            "ConsistentRead": True,
        }
        while True:
            with translate_aws_errors():
                page = aws.dynamodb().scan(**request)
            yield from (from_attributes(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def correct_counters(self, tally: Tally, run_id: str) -> None:
        """Adds `tally`'s (possibly negative) differences to one counter item, once per `run_id`.

        The item keeps the id of the last run that corrected it, and the update is conditioned on another id being
        there: a retry of a call that committed but lost its answer changes nothing the second time.
        """
        update = self._counter_add(tally)["Update"]
        update["UpdateExpression"] += " SET #run = :run"
        update["ConditionExpression"] = "attribute_not_exists(#run) OR #run <> :run"
        update["ExpressionAttributeNames"]["#run"] = COUNTERS_RUN
        update["ExpressionAttributeValues"][":run"] = {"S": run_id}
        try:
            with translate_aws_errors():
                aws.dynamodb().update_item(**update)
        except ConditionFailed:
            return  # this run's correction is in place already

    # --- helpers -------------------------------------------------------------------------------------

    def _put(self, item: dict[str, Any], condition: str | None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table_name, "Item": to_attributes(item)}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def _counter_add(self, tally: Tally) -> dict[str, Any]:
        names = {f"#n{i}": name for i, name in enumerate(tally.counts)}
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": to_attributes({"pk": tally.pk, "sk": tally.sk}),
                "UpdateExpression": "ADD " + ", ".join(f"#n{i} :v{i}" for i in range(len(names))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_attributes({f":v{i}": n for i, n in enumerate(tally.counts.values())}),
            }
        }

    def _claim_address(self, pk: str, kind: str, contact_id: str) -> dict[str, Any]:
        """Points an address at a contact unless another contact owns it. An Update, not a Put, so that
        suppressions already on the address (say, a STOP from before the person signed up) stay."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": to_attributes({"pk": pk, "sk": ADDR}),
                "ConditionExpression": "attribute_not_exists(contact_id)",
                "UpdateExpression": "SET contact_id = :c, kind = :k, suppressions = if_not_exists(suppressions, :none)",
                "ExpressionAttributeValues": to_attributes({":c": contact_id, ":k": kind, ":none": {}}),
            }
        }

    def _suppressions_update(
        self,
        pk: str,
        writes: Sequence[SuppressionChange | SuppressionWrite],
        condition: str,
        values: dict[str, Any],
        listing: tuple[str, str],
    ) -> dict[str, Any]:
        """One update of an address item for all its suppression changes: a transaction may touch an item once.
        An address that gets a suppression joins the tenant's list of suppressed addresses (`listing`)."""
        names = {f"#k{i}": write.key for i, write in enumerate(writes)}
        values = dict(values)
        sets, removes = [], []
        for i, write in enumerate(writes):
            if write.record is None:
                removes.append(f"suppressions.#k{i}")
            else:
                sets.append(f"suppressions.#k{i} = :r{i}")
                values[f":r{i}"] = write.record
        if sets:
            sets += ["gsi3pk = :lp", "gsi3sk = :ls"]
            values |= {":lp": listing[0], ":ls": listing[1]}
        expression = " ".join(
            clause
            for clause in (sets and "SET " + ", ".join(sets), removes and "REMOVE " + ", ".join(removes))
            if clause
        )
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": to_attributes({"pk": pk, "sk": ADDR}),
            "ConditionExpression": condition,
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
        }
        if values:
            update["ExpressionAttributeValues"] = to_attributes(values)
        return {"Update": update}

    def _receipt_put(self, receipt: dict[str, Any]) -> dict[str, Any]:
        return self._put(receipt, "attribute_not_exists(pk)")

    def _counter_unchanged(self, tenant_id: str, name: str, value: int) -> dict[str, Any]:
        condition, values = ("v = :v", {":v": value}) if value else ("attribute_not_exists(v)", None)
        check: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": to_attributes(counter_key(tenant_id, name)),
            "ConditionExpression": condition,
        }
        if values:
            check["ExpressionAttributeValues"] = to_attributes(values)
        return {"ConditionCheck": check}

    def _copy_head(self, tenant_id: str, contact_id: str, blind_index: str, head: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": to_attributes({"pk": address_pk(tenant_id, "phone", blind_index), "sk": ADDR}),
                "ConditionExpression": "contact_id = :c",
                "UpdateExpression": "SET head = :head",
                "ExpressionAttributeValues": to_attributes({":c": contact_id, ":head": head}),
            }
        }

    def _update_head(
        self,
        pk: str,
        profile: dict[str, Any],
        expected_seq: int,
        expected_profile_rev: int | None = None,
        guard: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        # An erased contact keeps its `seq` but loses its key: nothing may be appended to it after that.
        condition = "seq = :expected AND attribute_exists(wrapped_key) AND NOT erased = :erased"
        values: dict[str, Any] = {":expected": expected_seq, ":erased": True}
        guarded = dict(guard or {})
        for i, value in enumerate(guarded.values()):
            condition += f" AND #g{i} = :g{i}"
            values[f":g{i}"] = value
        if expected_profile_rev == 0:
            condition += " AND attribute_not_exists(profile_rev)"
        elif expected_profile_rev is not None:
            condition, values = f"{condition} AND profile_rev = :rev", {**values, ":rev": expected_profile_rev}
        expression = _set_expression(profile, values)
        expression["ExpressionAttributeNames"] |= {f"#g{i}": name for i, name in enumerate(guarded)}
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": to_attributes({"pk": pk, "sk": PROFILE}),
                "ConditionExpression": condition,
                **expression,
            }
        }

    def _transact(self, actions: list[TransactWriteItemTypeDef]) -> None:
        # botocore's retry of a committed write repeats the token, and DynamoDB answers it as a success (10 minutes).
        with translate_aws_errors():
            aws.dynamodb().transact_write_items(TransactItems=actions, ClientRequestToken=digest_token(actions))
