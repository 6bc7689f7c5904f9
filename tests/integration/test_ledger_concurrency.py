"""Concurrent writers on one contact: every change lands, in order, and the state matches the last event.

moto does not isolate transactions that run in parallel threads (two can pass the same condition before
either writes), unlike DynamoDB. So the race is reproduced deterministically: while one writer is between
reading the contact and committing, other writers commit first. Its commit must then fail on the log
head's version condition, reload, and land after them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from samtykke.domain.consent import ActorType, AddressKind, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.domain.ledger import first_broken_link
from samtykke.models.consent import Actor, Evidence
from samtykke.services.catalog import strip_keys
from samtykke.services.context import Services
from samtykke.services.ledger import Address, ContactTarget, Ledger, LoadedContact, StateChange
from tests.integration.conftest import TenantFixture

pytestmark = pytest.mark.integration

Decide = Callable[[LoadedContact], list[StateChange]]


def _change(status: ConsentStatus) -> StateChange:
    granted = status is ConsentStatus.GRANTED
    return StateChange(
        "e-marketing",
        Channel.EMAIL,
        EventType.GRANT if granted else EventType.WITHDRAW,
        status,
        LegalBasis.CONSENT if granted else LegalBasis.WITHDRAWN,
        "web-form",
    )


@pytest.mark.parametrize("interleaved_writers", [1, 3])
def test_a_writer_that_loses_the_race_retries_and_lands_last(
    svc: Services, tenant: TenantFixture, interleaved_writers: int
) -> None:
    catalog = svc.catalogs.get(tenant.tenant_id)
    keys = svc.keyring.tenant_keys(tenant.tenant_id, catalog.root_key_blob)
    ledger = Ledger(svc, keys)
    email = "racer@example.dk"
    address = Address(AddressKind.EMAIL, email, keys.blind_index("email", email))
    evidence = Evidence(at=svc.clock())
    actor = Actor(type=ActorType.SYSTEM)
    contact_id = ledger.write(
        ContactTarget(addresses=[address], create_if_missing=True),
        lambda _: [_change(ConsentStatus.GRANTED)],
        actor,
        evidence,
    ).contact.contact_id

    # Given a withdrawal that has read the contact, while grants by other writers commit before it does
    attempts: list[int] = []

    def withdraw_after_others_commit(contact: LoadedContact) -> list[StateChange]:
        attempts.append(contact.seq)
        if len(attempts) == 1:
            for _ in range(interleaved_writers):
                ledger.write(
                    ContactTarget(contact_id=contact_id), lambda _: [_change(ConsentStatus.GRANTED)], actor, evidence
                )
        return [_change(ConsentStatus.WITHDRAWN)]

    ledger.write(ContactTarget(contact_id=contact_id), withdraw_after_others_commit, actor, evidence)

    # Then the withdrawal was decided again on fresh state, and landed after the others
    assert attempts == [1, 1 + interleaved_writers]
    items = svc.repo.load_contact(tenant.tenant_id, contact_id)
    events = [strip_keys(i) for i in items if i["sk"].startswith("EVENT#")]
    assert [e["seq"] for e in events] == list(range(1, interleaved_writers + 3))
    assert [e["status"] for e in events] == ["granted"] * (interleaved_writers + 1) + ["withdrawn"]
    assert first_broken_link(events) is None
    state = next(i for i in items if i["sk"] == "STATE#e-marketing#email")
    assert (state["status"], state["event_id"]) == ("withdrawn", events[-1]["event_id"])
    assert "gsi1pk" not in state  # a withdrawn consent leaves the audience index at once


def test_a_writer_that_never_wins_gets_a_retryable_error_and_writes_nothing(
    svc: Services, tenant: TenantFixture
) -> None:
    from samtykke.domain.errors import RetryableError

    catalog = svc.catalogs.get(tenant.tenant_id)
    keys = svc.keyring.tenant_keys(tenant.tenant_id, catalog.root_key_blob)
    ledger = Ledger(svc, keys)
    address = Address(AddressKind.EMAIL, "busy@example.dk", keys.blind_index("email", "busy@example.dk"))
    actor, evidence = Actor(type=ActorType.SYSTEM), Evidence(at=svc.clock())
    contact_id = ledger.write(
        ContactTarget(addresses=[address], create_if_missing=True),
        lambda _: [_change(ConsentStatus.GRANTED)],
        actor,
        evidence,
    ).contact.contact_id

    def always_overtaken(_: LoadedContact) -> list[StateChange]:
        ledger.write(ContactTarget(contact_id=contact_id), lambda _: [_change(ConsentStatus.GRANTED)], actor, evidence)
        return [_change(ConsentStatus.WITHDRAWN)]

    with pytest.raises(RetryableError) as caught:
        ledger.write(ContactTarget(contact_id=contact_id), always_overtaken, actor, evidence)

    assert caught.value.code == "contention"
    items = svc.repo.load_contact(tenant.tenant_id, contact_id)
    assert all(i["status"] == "granted" for i in items if i["sk"].startswith("EVENT#"))
