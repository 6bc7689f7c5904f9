"""Provider secrets are sealed under the tenant's root key, bound to tenant and name."""

from __future__ import annotations

import os

import pytest

from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.secrets import SecretBox, SecretUnreadable

pytestmark = pytest.mark.unit


def test_a_sealed_secret_opens_only_for_its_tenant_and_name() -> None:
    root = os.urandom(32)
    box = SecretBox(TenantKeys("acme", root))
    sealed = box.seal("sms-provider/twilio", "12345678901234567890123456789012")

    assert b"1234567890" not in sealed
    assert box.open("sms-provider/twilio", sealed) == "12345678901234567890123456789012"
    assert box.seal("sms-provider/twilio", "x") != box.seal("sms-provider/twilio", "x")  # a fresh nonce each time
    for wrong_box, name in (
        (box, "sms-provider/vonage"),  # moved to another slot
        (SecretBox(TenantKeys("other", root)), "sms-provider/twilio"),  # moved to another tenant
        (SecretBox(TenantKeys("acme", os.urandom(32))), "sms-provider/twilio"),  # another root key
    ):
        with pytest.raises(SecretUnreadable):
            wrong_box.open(name, sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretUnreadable):
        box.open("sms-provider/twilio", tampered)
    with pytest.raises(SecretUnreadable):
        box.open("sms-provider/twilio", b"\x02" + sealed[1:])
