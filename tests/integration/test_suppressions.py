"""Suppressions live on the address: set with a consent change, or alone for an address with no contact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from samtykke.domain.consent import ActorType, AddressKind, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.domain.suppression import SuppressionReason, suppression_key, suppression_reason
from samtykke.models.consent import Actor, Evidence
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange
from tests.integration.conftest import TenantFixture, body_of

pytestmark = pytest.mark.integration


def test_a_withdrawal_and_its_suppression_commit_together(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Callable[..., Any]
) -> None:
    body = {"email": "quit@example.dk", "purpose": ["sales-and-service"]}
    contact_id = body_of(invoke("consent_capture", api_event("consent_capture_json", json_body=body)))["contact_id"]
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    record = {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": "2026-11-23T10:00:00+00:00"}

    def withdraw(_: LoadedContact) -> list[StateChange]:
        return [
            StateChange(
                "sales-and-service",
                Channel.EMAIL,
                EventType.WITHDRAW,
                ConsentStatus.WITHDRAWN,
                LegalBasis.WITHDRAWN,
                "unsubscribe-link",
            )
        ]

    target = ContactTarget(
        contact_id=contact_id,
        suppressions=[(AddressKind.EMAIL, suppression_key(Channel.EMAIL, "sales-and-service"), record)],
    )
    Ledger(svc, keys).write(target, withdraw, Actor(type=ActorType.CONTACT), Evidence(at=svc.clock()))

    address = svc.repo.get_address(tenant.tenant_id, "email", keys.blind_index("email", "quit@example.dk"))
    assert address is not None
    assert address["contact_id"] == contact_id
    assert (
        suppression_reason(address["suppressions"], Channel.EMAIL, "sales-and-service")
        is SuppressionReason.UNSUBSCRIBED
    )
    assert suppression_reason(address["suppressions"], Channel.EMAIL, "e-marketing") is None


def test_a_stranger_can_be_suppressed_and_keeps_it_after_signing_up(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Callable[..., Any]
) -> None:
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    blind = keys.blind_index("phone", "+4520999999")
    stop = {"reason": SuppressionReason.SMS_STOP.value, "at": "2026-11-23T10:00:00+00:00"}

    # Given a STOP from a number that matches no contact
    svc.repo.set_address_suppression(tenant.tenant_id, "phone", blind, suppression_key(Channel.SMS), stop)
    svc.repo.set_address_suppression(tenant.tenant_id, "phone", blind, suppression_key(Channel.SMS), stop)

    # When that number later signs up on a form
    body = {"phone": "20 99 99 99", "purpose": ["e-marketing"]}
    assert invoke("consent_capture", api_event("consent_capture_json", json_body=body))["statusCode"] == 201

    # Then the address belongs to the new contact and the STOP still suppresses SMS
    address = svc.repo.get_address(tenant.tenant_id, "phone", blind)
    assert address is not None
    assert address["contact_id"].startswith("con_")
    assert suppression_reason(address["suppressions"], Channel.SMS, "e-marketing") is SuppressionReason.SMS_STOP

    # And lifting it (START) removes it; lifting again is harmless
    for _ in range(2):
        svc.repo.set_address_suppression(tenant.tenant_id, "phone", blind, suppression_key(Channel.SMS), None)
    lifted = svc.repo.get_address(tenant.tenant_id, "phone", blind)
    assert lifted is not None
    assert lifted["suppressions"] == {}


@pytest.mark.unit
def test_transactional_sends_ignore_unsubscribes_but_never_bounces() -> None:
    unsubscribed = {"email#*": {"reason": "unsubscribed"}}
    bounced = {"email#*": {"reason": "hard_bounce"}}
    assert suppression_reason(unsubscribed, Channel.EMAIL, "x", transactional=True) is None
    assert suppression_reason(bounced, Channel.EMAIL, "x", transactional=True) is SuppressionReason.HARD_BOUNCE
    assert suppression_reason(unsubscribed, Channel.SMS, "x") is None


def test_several_suppressions_of_one_address_ride_with_one_consent_change(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Callable[..., Any]
) -> None:
    body = {"phone": "20 55 66 77", "purpose": ["e-marketing"]}
    contact_id = body_of(invoke("consent_capture", api_event("consent_capture_json", json_body=body)))["contact_id"]
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    record = {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": "2026-11-23T10:00:00+00:00"}

    def withdraw(_: LoadedContact) -> list[StateChange]:
        return [
            StateChange(
                "e-marketing",
                Channel.SMS,
                EventType.WITHDRAW,
                ConsentStatus.WITHDRAWN,
                LegalBasis.WITHDRAWN,
                "unsubscribe-link",
            )
        ]

    # When one change suppresses the same number for SMS and for phone calls
    target = ContactTarget(
        contact_id=contact_id,
        suppressions=[
            (AddressKind.PHONE, suppression_key(Channel.SMS), record),
            (AddressKind.PHONE, suppression_key(Channel.PHONE), record),
        ],
    )
    result = Ledger(svc, keys).write(target, withdraw, Actor(type=ActorType.CONTACT), Evidence(at=svc.clock()))

    # Then both suppressions and the withdrawal landed together
    assert [e.status for e in result.events] == [ConsentStatus.WITHDRAWN]
    address = svc.repo.get_address(tenant.tenant_id, "phone", keys.blind_index("phone", "+4520556677"))
    assert address is not None
    assert set(address["suppressions"]) == {"sms#*", "phone#*"}
