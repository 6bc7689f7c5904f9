"""Sealing a tenant's third-party secrets (SMS provider tokens) under the tenant's KMS-protected root key.

The tenant root key is a KMS data key, stored only encrypted and decrypted once per container
(`adapters/crypto.KmsKeyring`). From it, HKDF derives one AES-256-GCM key for provider secrets; each secret is
sealed bound to tenant and name (`sms-provider/twilio`, …), so a sealed value cannot be moved to another tenant
or slot. So:
- no plaintext secret is ever stored in DynamoDB, and no GET returns one;
- opening a secret costs no KMS call once the container has the tenant's root (KMS Decrypt on first use);
- destroying the tenant's root key crypto-shreds its secrets along with everything else.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from samtykke.adapters.crypto import TenantKeys

FORMAT_VERSION = b"\x01"
NONCE_BYTES = 12
_LABEL = b"tenant-secrets/v1"


class SecretUnreadable(Exception):
    """A sealed secret that does not open: tampered with, or sealed for another tenant or name."""


class SecretBox:
    def __init__(self, keys: TenantKeys) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(keys.root)
        self._aead = AESGCM(key)
        self._tenant_id = keys.tenant_id

    def _context(self, name: str) -> bytes:
        return f"{self._tenant_id}|{name}".encode()

    def seal(self, name: str, secret: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_VERSION + nonce + self._aead.encrypt(nonce, secret.encode(), self._context(name))

    def open(self, name: str, sealed: bytes) -> str:
        if sealed[:1] != FORMAT_VERSION:
            raise SecretUnreadable("unknown format")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, self._context(name)).decode()
        except InvalidTag as exc:
            raise SecretUnreadable("the secret does not open") from exc
