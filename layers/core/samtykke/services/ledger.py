"""Appending to the consent log: the one path by which any consent state changes.

A write finds (or creates) the contact, lets the caller decide the state changes from the current
states, and commits the events, the new states and the log head in one transaction. If another writer
got there first, it reloads and decides again, so concurrent grants and withdrawals all land, in order,
and the state always matches the last event.

A commit can succeed and its answer be lost (a timeout, a dropped connection). The new log head that a write
would leave is unique (its hash covers fresh event ids), so when a retry finds that head in place, the write knows
the commit as its own and answers as if the reply had come, instead of deciding again on its own changes.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from samtykke.adapters.crypto import ContactBox, ContactSealer, TenantKeys
from samtykke.adapters.errors import AwsUnreachable
from samtykke.adapters.repository import (
    AddressNotOwned,
    AddressTaken,
    ContactChanged,
    ContactWrite,
    CounterMoved,
    SuppressionWrite,
    audience_pk,
    candidates_pk,
    pending_pk,
    state_sk,
)
from samtykke.console.aggregates import tally
from samtykke.domain.consent import (
    AddressKind,
    Channel,
    ConsentStatus,
    EventType,
    LegalBasis,
    permits_messaging,
)
from samtykke.domain.errors import NotFound, RetryableError
from samtykke.domain.ledger import GENESIS_HASH, chain_hash
from samtykke.domain.links import HeadHint
from samtykke.models.consent import Actor, ContactProfile, Evidence, TextRef
from samtykke.services.context import Services
from samtykke.services.evidence_log.heads import changed_head_index

MAX_ATTEMPTS = 6
StateKey = tuple[str, Channel]


class ContactNotFound(NotFound):
    code = "contact_not_found"


@dataclass(frozen=True)
class StateChange:
    purpose: str
    channel: Channel
    type: EventType
    status: ConsentStatus
    legal_basis: LegalBasis
    source: str
    text: TextRef | None = None
    # The import declaration that vouches for this change (services/imports.py); kept in the event and the state.
    declaration_id: str | None = None
    # A parent confirmed it (GDPR Art. 8; services/evidence_log/parental.py); kept in the event and the state.
    parental_consent: bool = False
    # The request this change carries out (say, an import's row), kept in the event: a re-run knows its own work.
    request_id: str | None = None

    @classmethod
    def withdrawal(cls, purpose: str, channel: Channel, source: str, text: TextRef | None = None) -> StateChange:
        return cls(purpose, channel, EventType.WITHDRAW, ConsentStatus.WITHDRAWN, LegalBasis.WITHDRAWN, source, text)


@dataclass(frozen=True)
class CurrentState:
    status: ConsentStatus
    legal_basis: LegalBasis
    source: str
    event_id: str
    text: TextRef | None
    parental_consent: bool = False


@dataclass
class LoadedContact:
    contact_id: str
    seq: int
    last_hash: str
    box: ContactBox
    profile: ContactProfile
    states: dict[StateKey, CurrentState]
    blind_indexes: dict[AddressKind, str] = field(default_factory=dict)
    wrapped_key: bytes | None = None  # only for a contact not stored yet
    # The profile item as stored (empty for a new contact): its sealed extras, e.g. a pending profile change.
    item: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Address:
    kind: AddressKind
    value: str  # normalised
    blind_index: str


@dataclass
class ContactTarget:
    """Who the write is about: a known contact id, or the addresses that find (or make) the contact."""

    contact_id: str | None = None
    addresses: list[Address] = field(default_factory=list)
    profile_updates: ContactProfile | None = None
    create_if_missing: bool = False
    # Suppressions to set (record) or lift (None) on the contact's own addresses, in the same transaction.
    suppressions: list[tuple[AddressKind, str, dict[str, Any] | None]] = field(default_factory=list)
    # The contact as the caller just loaded it: the first attempt decides on it rather than reading it again.
    loaded: LoadedContact | None = None
    # The request's receipt (`ContactWrite.receipt`): a redelivery raises `AlreadyApplied` and writes nothing.
    receipt: dict[str, Any] | None = None
    # More attributes of the profile item, sealed by the caller (services/evidence_log/profile_changes.py).
    profile_extras: dict[str, Any] = field(default_factory=dict)
    # The write changes an existing contact's profile alone, with no event (a staff edit of custom fields).
    profile_only: bool = False


@dataclass(frozen=True)
class RecordedEvent:
    event_id: str
    purpose: str
    channel: Channel
    status: ConsentStatus


@dataclass(frozen=True)
class WriteResult:
    contact: LoadedContact
    events: list[RecordedEvent]


Decide = Callable[[LoadedContact], list[StateChange]]


def new_id(prefix: str) -> str:
    """Time-ordered, unguessable ids: 48 bits of milliseconds, then 80 random bits."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def _text_ref(raw: Any) -> TextRef | None:
    return TextRef.model_validate(raw) if raw else None


class Sealer(Protocol):
    """Seals a contact's field: its `ContactBox`, or a `ContactSealer` with only its public key."""

    def seal(self, field: str, plaintext: bytes) -> bytes: ...


def _seal_json(sealer: Sealer, field_name: str, value: dict[str, Any]) -> bytes:
    return sealer.seal(field_name, json.dumps(value, separators=(",", ":")).encode())


def open_profile(box: ContactBox, sealed: bytes | None) -> ContactProfile:
    if not sealed:
        return ContactProfile()
    return ContactProfile.model_validate_json(box.open("profile", sealed))


def open_evidence(box: ContactBox, event_id: str, sealed_b64: str | None) -> Evidence | None:
    if not sealed_b64:
        return None
    return Evidence.model_validate_json(box.open(f"evidence/{event_id}", base64.b64decode(sealed_b64)))


class Ledger:
    def __init__(self, svc: Services, keys: TenantKeys) -> None:
        self._svc = svc
        self._keys = keys

    def load(self, contact_id: str) -> LoadedContact:
        profile, states = self._svc.repo.load_contact_head(self._keys.tenant_id, contact_id)
        if profile is None or profile.get("erased"):
            raise ContactNotFound("No such contact")
        box = self._keys.contact_box(contact_id, profile["wrapped_key"])
        return LoadedContact(
            contact_id=contact_id,
            seq=int(profile["seq"]),
            last_hash=profile["last_hash"],
            box=box,
            profile=open_profile(box, profile.get("profile")),
            states={
                (s["purpose"], Channel(s["channel"])): CurrentState(
                    status=ConsentStatus(s["status"]),
                    legal_basis=LegalBasis(s["legal_basis"]),
                    source=s["source"],
                    event_id=s["event_id"],
                    text=_text_ref(s.get("text")),
                    parental_consent=bool(s.get("parental_consent")),
                )
                for s in states
            },
            blind_indexes={
                kind: profile[f"{kind.value}_bidx"] for kind in AddressKind if profile.get(f"{kind.value}_bidx")
            },
            item=profile,
        )

    def write(self, target: ContactTarget, decide: Decide, actor: Actor, evidence: Evidence) -> WriteResult:
        """Finds or creates the contact, applies `decide`'s changes atomically, and retries on contention."""
        assume_new = target.contact_id is None and target.create_if_missing
        index_addresses = True
        copy_phone_head = True
        attempted: tuple[str, list[RecordedEvent]] | None = None  # the head a try that may have committed leaves
        for attempt in range(MAX_ATTEMPTS):
            if attempt == 0 and target.loaded is not None:
                contact = target.loaded
            else:
                contact = self._new_contact() if assume_new else self._find(target)
            if attempted is not None and contact.last_hash == attempted[0]:
                return WriteResult(contact, attempted[1])  # an earlier try committed; its answer was lost
            changes = decide(contact)
            if not changes and contact.wrapped_key is None and not target.profile_only:
                return WriteResult(contact, [])
            write, recorded = self._build(contact, target, changes, actor, evidence, index_addresses, copy_phone_head)
            attempted = (write.profile["last_hash"], recorded) if recorded else None
            try:
                self._svc.repo.write_contact(write)
            except AwsUnreachable:
                assume_new = False  # maybe committed: look again
            except AddressTaken:
                # A new contact's address has an owner: write to the owner's log instead. An existing
                # contact's extra address belongs to someone else: leave that index alone.
                index_addresses = assume_new
                assume_new = False
            except AddressNotOwned:
                copy_phone_head = False  # the number the profile names now points elsewhere: copy nothing to it
            except ContactChanged:
                assume_new = False
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not crypto
            else:
                return WriteResult(contact, recorded)
        raise RetryableError("Too many concurrent changes to this contact; retry", code="contention")

    def withdraw_on_hint(
        self,
        contact_id: str,
        hint: HeadHint,
        kind: AddressKind,
        changes: list[StateChange],
        suppressions: list[tuple[AddressKind, str, dict[str, Any] | None]],
        actor: Actor,
        evidence: Evidence,
        *,
        counter_at: tuple[str, int],
        receipt: dict[str, Any] | None = None,
        copied: PhoneHead | None = None,
    ) -> list[RecordedEvent] | None:
        """Appends withdrawals to the log head a hint names (a signed link's, or the phone's copy), in one call.

        The hint's head was read when the link was signed or the copy made. The transaction holds only while it
        is still the contact's head (and the contact has its key), with `hint.address_index` as its `kind` address;
        while each state it replaces exists and is not withdrawn; while the address is still the contact's; and
        while the configuration counter is still `counter_at` (the caller's cached catalog). So nothing is decided
        on stale facts. The evidence is sealed to the contact's public key (`ContactSealer`). `copied`, the phone's
        copy the changes were decided on, is copied anew. None means it did not commit, and the caller writes the
        usual way; a lost reply is checked against the head it leaves. A redelivery raises `AlreadyApplied`.
        """
        if any(change.status is not ConsentStatus.WITHDRAWN for change in changes):
            raise ValueError("Only withdrawals are decided without reading the contact")
        now = self._svc.clock()
        tenant_id = self._keys.tenant_id
        sealer = ContactSealer(tenant_id, contact_id, hint.public_key)
        chain = _Chain(tenant_id, contact_id, sealer, hint.seq, hint.last_hash, now)
        for change in changes:
            chain.append(change, actor, evidence)
        phone_head = None
        if copied is not None and kind is AddressKind.PHONE:
            phone_head = (hint.address_index, copied.after(chain).to_item())
        write = ContactWrite(
            tenant_id=tenant_id,
            contact_id=contact_id,
            expected_seq=hint.seq,
            profile=chain.head(),
            suppressions=[
                SuppressionWrite(k.value, hint.address_index, key, record) for k, key, record in suppressions
            ],
            events=chain.events,
            states=chain.states,
            receipt=receipt,
            tally=tally(tenant_id, contact_id, chain.events, now, evidence.note),
            counter_at=counter_at,
            states_not_withdrawn=True,
            head_guard={"last_hash": hint.last_hash, f"{kind.value}_bidx": hint.address_index},
            phone_head=phone_head,
        )
        try:
            self._svc.repo.write_contact(write)
        except (ContactChanged, CounterMoved, AddressNotOwned):
            return None
        except AwsUnreachable:
            return chain.recorded if self._landed(write) else None
        return chain.recorded

    def create_many(
        self, requests: list[tuple[ContactTarget, Decide, Evidence]], actor: Actor, *, max_actions: int = 100
    ) -> list[WriteResult]:
        """New contacts, several per transaction: bulk imports of addresses that no contact owns yet.

        Each request is a target with addresses and no contact id (`create_if_missing`), its decision and its
        evidence. Contacts are packed into transactions of at most `max_actions` actions, never two claims of one
        address in the same transaction. If a transaction fails (an address was claimed meanwhile), each of its
        requests is written on its own with `write`, which finds the owner and decides again. The results come in
        the order of `requests`.
        """
        results: list[WriteResult | None] = [None] * len(requests)
        group: list[tuple[int, ContactWrite, WriteResult]] = []
        claimed: set[tuple[str, str]] = set()

        def flush() -> None:
            if not group:
                return
            try:
                self._svc.repo.write_contacts([write for _, write, _ in group])
            except (ContactChanged, AwsUnreachable):
                for index, write, result in group:
                    if self._landed(write):
                        results[index] = result  # the transaction committed; its answer was lost
                        continue
                    target, decide, evidence = requests[index]
                    results[index] = self.write(target, decide, actor, evidence)
            else:
                for index, _, result in group:
                    results[index] = result
            group.clear()
            claimed.clear()

        for index, (target, decide, evidence) in enumerate(requests):
            if target.contact_id is not None or not target.create_if_missing or not target.addresses:
                raise ValueError("create_many takes only new contacts, found by their addresses")
            contact = self._new_contact()
            write, recorded = self._build(contact, target, decide(contact), actor, evidence, True, True)
            size = 1 + len(write.new_addresses) + len(write.suppressions) + len(write.events) + len(write.states)
            in_group = sum(
                1 + len(w.new_addresses) + len(w.suppressions) + len(w.events) + len(w.states) for _, w, _ in group
            )
            # Two actions kept for the batch's daily counters (a batch may straddle midnight).
            if in_group + size > max_actions - 2 or claimed & set(write.new_addresses):
                flush()
            group.append((index, write, WriteResult(contact, recorded)))
            claimed.update(write.new_addresses)
        flush()
        return [result for result in results if result is not None]

    def _landed(self, write: ContactWrite) -> bool:
        """Whether `write`, which appends events, is in the table: the contact's log head is the one it leaves."""
        if not write.events:
            return False
        profile, _ = self._svc.repo.load_contact_head(self._keys.tenant_id, write.contact_id)
        return profile is not None and profile.get("last_hash") == write.profile["last_hash"]

    def _find(self, target: ContactTarget) -> LoadedContact:
        contact_id = target.contact_id
        for address in target.addresses:
            if contact_id is not None:
                break
            contact_id = self._svc.repo.find_contact_id(self._keys.tenant_id, address.kind, address.blind_index)
        if contact_id is None:
            if not target.create_if_missing:
                raise ContactNotFound("No contact has that address")
            return self._new_contact()
        return self.load(contact_id)

    def _new_contact(self) -> LoadedContact:
        contact_id = new_id("con")
        box, wrapped = self._keys.new_contact_box(contact_id)
        return LoadedContact(contact_id, 0, GENESIS_HASH, box, ContactProfile(), {}, wrapped_key=wrapped)

    def _build(
        self,
        contact: LoadedContact,
        target: ContactTarget,
        changes: list[StateChange],
        actor: Actor,
        evidence: Evidence,
        index_addresses: bool,
        copy_phone_head: bool,
    ) -> tuple[ContactWrite, list[RecordedEvent]]:
        now = self._svc.clock()
        tenant_id = self._keys.tenant_id
        merged = _merge_profile(contact.profile, target.profile_updates)
        chain = _Chain(tenant_id, contact.contact_id, contact.box, contact.seq, contact.last_hash, now)
        for change in changes:
            chain.append(change, actor, evidence)
        profile: dict[str, Any] = {
            **chain.head(),
            "profile": _seal_json(contact.box, "profile", merged.model_dump(mode="json", exclude_none=True)),
            "locale": merged.locale,
            **target.profile_extras,
        }
        profile_rev = int(contact.item.get("profile_rev", 0))
        if target.profile_only:
            profile["profile_rev"] = profile_rev + 1
        is_new = contact.wrapped_key is not None
        known = {kind for kind in AddressKind if getattr(contact.profile, kind.value)}
        new_addresses = [a for a in target.addresses if is_new or (index_addresses and a.kind not in known)]
        for address in new_addresses:
            profile[f"{address.kind.value}_bidx"] = address.blind_index
        phone_index = profile.get("phone_bidx") or contact.blind_indexes.get(AddressKind.PHONE)
        phone_head = None
        if copy_phone_head and chain.events and phone_index:
            phone_head = (phone_index, PhoneHead.of(contact, merged.locale).after(chain).to_item())
        if is_new:
            profile |= {
                "contact_id": contact.contact_id,
                "created_at": now.isoformat(),
                "erased": False,
                "wrapped_key": contact.wrapped_key,
            }
        write = ContactWrite(
            tenant_id=tenant_id,
            contact_id=contact.contact_id,
            expected_seq=None if is_new else contact.seq,
            profile=profile,
            new_addresses=[(a.kind.value, a.blind_index) for a in new_addresses],
            suppressions=[
                SuppressionWrite(kind.value, contact.blind_indexes[kind], key, record)
                for kind, key, record in target.suppressions
                if kind in contact.blind_indexes
            ],
            events=chain.events,
            states=chain.states,
            receipt=target.receipt,
            tally=tally(tenant_id, contact.contact_id, chain.events, now, evidence.note),
            expected_profile_rev=profile_rev if target.profile_only else None,
            phone_head=phone_head,
        )
        return write, chain.recorded


@dataclass(frozen=True)
class PhoneHead:
    """A contact's log head as copied onto its phone's address item (`ContactWrite.phone_head`), with the state of
    each of its SMS consents: what a STOP from the number needs to be decided and written without reading the
    contact (services/sms_inbound.py). Written in the same transaction as the head it copies; a copy that fell
    behind only fails the STOP's conditions, which then reads the contact."""

    seq: int
    last_hash: str
    public_key: bytes
    locale: str | None
    sms: dict[str, tuple[ConsentStatus, TextRef | None]]

    @classmethod
    def of(cls, contact: LoadedContact, locale: str | None) -> PhoneHead:
        sms = {p: (s.status, s.text) for (p, channel), s in contact.states.items() if channel is Channel.SMS}
        return cls(contact.seq, contact.last_hash, contact.box.public_key(), locale, sms)

    def after(self, chain: _Chain) -> PhoneHead:
        """The copy once `chain`'s events are appended."""
        sms = dict(self.sms)
        for state in chain.states:
            if state["channel"] == Channel.SMS.value:
                sms[state["purpose"]] = (ConsentStatus(state["status"]), _text_ref(state.get("text")))
        return PhoneHead(chain.seq, chain.last_hash, self.public_key, self.locale, sms)

    def hint(self, blind_index: str) -> HeadHint:
        return HeadHint(self.seq, self.last_hash, blind_index, self.public_key, self.locale)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "seq": self.seq,
            "last_hash": self.last_hash,
            "key": self.public_key,
            "sms": {
                purpose: {"status": status.value, **({"text": text.model_dump()} if text else {})}
                for purpose, (status, text) in self.sms.items()
            },
        }
        if self.locale:
            item["locale"] = self.locale
        return item

    @classmethod
    def from_item(cls, raw: Any) -> PhoneHead | None:
        """The copy on an address item, or None if there is none."""
        if not isinstance(raw, dict):
            return None
        return cls(
            seq=int(raw["seq"]),
            last_hash=raw["last_hash"],
            public_key=bytes(raw["key"]),
            locale=raw.get("locale"),
            sms={p: (ConsentStatus(s["status"]), _text_ref(s.get("text"))) for p, s in raw["sms"].items()},
        )


@dataclass
class _Chain:
    """Events appended to a contact's log head, with the states they leave and the new head."""

    tenant_id: str
    contact_id: str
    sealer: Sealer
    seq: int
    last_hash: str
    at: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    recorded: list[RecordedEvent] = field(default_factory=list)

    def append(self, change: StateChange, actor: Actor, evidence: Evidence) -> None:
        self.seq += 1
        event_id = new_id("evt")
        event = _event_record(
            self.contact_id, self.sealer, change, event_id, self.seq, actor, self.at, evidence, self.last_hash
        )
        event["hash"] = self.last_hash = chain_hash(self.last_hash, event)
        self.events.append(event)
        self.states.append(_state_record(self.tenant_id, self.contact_id, change, event_id, self.seq, self.at))
        self.recorded.append(RecordedEvent(event_id, change.purpose, change.channel, change.status))

    def head(self) -> dict[str, Any]:
        """The profile item's head attributes after these events."""
        return {
            "seq": self.seq,
            "last_hash": self.last_hash,
            "updated_at": self.at.isoformat(),
            **changed_head_index(self.tenant_id, self.contact_id, self.at),
        }


def _merge_profile(current: ContactProfile, updates: ContactProfile | None) -> ContactProfile:
    """The profile with `updates` applied; custom fields are updated one by one, the others kept."""
    if updates is None:
        return current
    changes = updates.model_dump(exclude_none=True)
    if updates.custom_fields:
        changes["custom_fields"] = {**(current.custom_fields or {}), **updates.custom_fields}
    return current.model_copy(update=changes)


def _event_record(
    contact_id: str,
    sealer: Sealer,
    change: StateChange,
    event_id: str,
    seq: int,
    actor: Actor,
    at: datetime,
    evidence: Evidence,
    prev_hash: str,
) -> dict[str, Any]:
    """The stored event, exactly as its hash covers it. Evidence is personal data, so it is sealed."""
    sealed = _seal_json(sealer, f"evidence/{event_id}", evidence.model_dump(mode="json", exclude_none=True))
    record = {
        "event_id": event_id,
        "contact_id": contact_id,
        "seq": seq,
        "type": change.type.value,
        "purpose": change.purpose,
        "channel": change.channel.value,
        "status": change.status.value,
        "legal_basis": change.legal_basis.value,
        "source": change.source,
        "text": change.text.model_dump() if change.text else None,
        "declaration_id": change.declaration_id,
        "parental_consent": change.parental_consent or None,
        "request_id": change.request_id,
        "actor": actor.model_dump(mode="json", exclude_none=True),
        "at": at.isoformat(),
        "evidence": base64.b64encode(sealed).decode(),
        "prev_hash": prev_hash,
    }
    # DynamoDB keeps no attribute for None, so neither does the record the hash covers.
    return {k: v for k, v in record.items() if v is not None}


def _state_record(
    tenant_id: str, contact_id: str, change: StateChange, event_id: str, seq: int, at: datetime
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "sk": state_sk(change.purpose, change.channel.value),
        "contact_id": contact_id,
        "purpose": change.purpose,
        "channel": change.channel.value,
        "status": change.status.value,
        "legal_basis": change.legal_basis.value,
        "source": change.source,
        "event_id": event_id,
        "seq": seq,
        "text": change.text.model_dump() if change.text else None,
        "declaration_id": change.declaration_id,
        "parental_consent": change.parental_consent or None,
        "updated_at": at.isoformat(),
    }
    if permits_messaging(change.status):
        # Only granted states join the sparse audience index that campaigns page through.
        record["gsi1pk"] = audience_pk(tenant_id, change.purpose, change.channel.value)
        record["gsi1sk"] = contact_id
    elif change.status is ConsentStatus.PENDING:
        # A waiting double opt-in is listed by the day it was asked for, so the retention sweeper can expire it.
        record["gsi1pk"] = pending_pk(at.date().isoformat())
        record["gsi1sk"] = f"{at.isoformat()}#{tenant_id}#{contact_id}#{change.purpose}#{change.channel.value}"
    # Every state, whatever its status, is in the `candidates` index (campaign dry runs and transactional sends).
    record["gsi2pk"] = candidates_pk(tenant_id, change.purpose, change.channel.value)
    record["gsi2sk"] = contact_id
    return record
