"""Sealing for a contact with only its public key (`ContactSealer`), and opening with its data key alone."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from samtykke.adapters.crypto import FORMAT_VERSION, SEALED_FOR_CONTACT, ContactSealer, TenantKeys


@pytest.fixture
def keys() -> TenantKeys:
    return TenantKeys("acme", os.urandom(32))


def test_what_is_sealed_to_the_public_key_opens_with_the_contacts_box_and_is_bound_to_its_field(
    keys: TenantKeys,
) -> None:
    box, wrapped = keys.new_contact_box("con_1")
    sealer = ContactSealer("acme", "con_1", box.public_key())

    sealed = sealer.seal("evidence/evt_1", b"203.0.113.7")

    assert sealed[:1] == SEALED_FOR_CONTACT
    assert keys.contact_box("con_1", wrapped).open("evidence/evt_1", sealed) == b"203.0.113.7"
    assert sealer.seal("evidence/evt_1", b"203.0.113.7") != sealed  # a fresh ephemeral key each time
    with pytest.raises(InvalidTag):
        box.open("evidence/evt_2", sealed)  # another field


def test_another_contact_or_tenant_cannot_open_it(keys: TenantKeys) -> None:
    box, _ = keys.new_contact_box("con_1")
    sealed = ContactSealer("acme", "con_1", box.public_key()).seal("profile", b"secret")
    other_contact, _ = keys.new_contact_box("con_2")
    same_id_other_key, _ = keys.new_contact_box("con_1")

    for stranger in (other_contact, same_id_other_key):
        with pytest.raises(InvalidTag):
            stranger.open("profile", sealed)
    rebound = ContactSealer("acme", "con_2", box.public_key()).seal("profile", b"secret")
    with pytest.raises(InvalidTag):
        box.open("profile", rebound)  # sealed for con_1's key but bound to con_2


def test_the_public_key_follows_the_data_key_and_the_old_format_still_opens(keys: TenantKeys) -> None:
    box, wrapped = keys.new_contact_box("con_1")
    reopened = keys.contact_box("con_1", wrapped)

    assert reopened.public_key() == box.public_key()
    assert len(box.public_key()) == 32
    symmetric = box.seal("profile", b"{}")
    assert symmetric[:1] == FORMAT_VERSION
    assert reopened.open("profile", symmetric) == b"{}"
