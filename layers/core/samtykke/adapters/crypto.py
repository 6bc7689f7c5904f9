"""Field protection: KMS envelope encryption with per-container key caching, and keyed blind indexes.

Each tenant has one root data key, made by KMS `GenerateDataKey` when the tenant is created and stored
only in its KMS-encrypted form. A container decrypts it once per tenant and derives from it (HKDF):
- the blind-index key: HMAC of a normalised address, so contacts are found without storing it in clear;
- the wrapping key for contact keys;
- the signing keys for emailed links.

Every contact has its own random data key, wrapped under the tenant's wrapping key. All of the contact's
personal fields, and the evidence in its consent log, are sealed with that key (AES-256-GCM, bound to
tenant, contact and field). Destroying the wrapped key crypto-shreds all of it at once, while the log's
hash chain, which covers the ciphertext, stays verifiable. There is no KMS call per field or per contact.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from functools import cached_property

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors

FORMAT_VERSION = b"\x01"
# Sealed to the contact's public key by someone without its data key (a one-call unsubscribe, services/ledger.py):
# 0x02, the sender's ephemeral X25519 public key (32 bytes), the nonce, then the AES-256-GCM ciphertext.
SEALED_FOR_CONTACT = b"\x02"
NONCE_BYTES = 12
PUBLIC_KEY_BYTES = 32
_SEAL_KEY_LABEL = "contact-seal/x25519/v1"


def _derive(root: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(root)


class ContactBox:
    """Seals and opens one contact's fields with that contact's data key.

    The data key also yields the contact's X25519 key pair (HKDF), so what was sealed to its public key
    (`seal_for_contact`) opens here too, and shredding the data key shreds that as well.
    """

    def __init__(self, tenant_id: str, contact_id: str, key: bytes) -> None:
        self._key = key
        self._aead = AESGCM(key)
        self._context = f"{tenant_id}|{contact_id}|"

    def seal(self, field: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_VERSION + nonce + self._aead.encrypt(nonce, plaintext, (self._context + field).encode())

    def open(self, field: str, sealed: bytes) -> bytes:
        if sealed[:1] == SEALED_FOR_CONTACT:
            return self._open_sealed_for_contact(field, sealed)
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        return self._aead.decrypt(nonce, ciphertext, (self._context + field).encode())

    @cached_property
    def _seal_private(self) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(_derive(self._key, _SEAL_KEY_LABEL))

    def public_key(self) -> bytes:
        """The contact's public sealing key (32 bytes): it lets a holder seal for the contact, never open."""
        return self._seal_private.public_key().public_bytes_raw()

    def _open_sealed_for_contact(self, field: str, sealed: bytes) -> bytes:
        ephemeral = sealed[1 : 1 + PUBLIC_KEY_BYTES]
        nonce_at = 1 + PUBLIC_KEY_BYTES
        nonce, ciphertext = sealed[nonce_at : nonce_at + NONCE_BYTES], sealed[nonce_at + NONCE_BYTES :]
        shared = self._seal_private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        key = _sealing_key(shared, ephemeral, self.public_key(), self._context + field)
        return AESGCM(key).decrypt(nonce, ciphertext, (self._context + field).encode())


def _sealing_key(shared: bytes, ephemeral: bytes, recipient: bytes, context: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=f"{_SEAL_KEY_LABEL}|{context}".encode()
    ).derive(shared)


@dataclass(frozen=True)
class ContactSealer:
    """Seals fields for one contact with only its public key (ECIES: X25519, HKDF-SHA256, AES-256-GCM).

    Only the contact's `ContactBox` opens them; the sealer cannot, and needs no read of the contact's key.
    """

    tenant_id: str
    contact_id: str
    public_key: bytes

    def seal(self, field: str, plaintext: bytes) -> bytes:
        context = f"{self.tenant_id}|{self.contact_id}|{field}"
        ephemeral_private = X25519PrivateKey.generate()
        ephemeral = ephemeral_private.public_key().public_bytes_raw()
        shared = ephemeral_private.exchange(X25519PublicKey.from_public_bytes(self.public_key))
        key = _sealing_key(shared, ephemeral, self.public_key, context)
        nonce = os.urandom(NONCE_BYTES)
        return SEALED_FOR_CONTACT + ephemeral + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


@dataclass(frozen=True)
class TenantKeys:
    """A tenant's root key and the keys derived from it. The keyring keeps one per tenant for the container's
    life, so each derived key is computed once per container, not once per request."""

    tenant_id: str
    root: bytes
    _derived: dict[str, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _subkey(self, label: str) -> bytes:
        key = self._derived.get(label)
        if key is None:
            key = self._derived[label] = _derive(self.root, label)
        return key

    def blind_index(self, kind: str, normalised_value: str) -> str:
        key = self._subkey("blind-index/v1")
        return hmac.new(key, f"{kind}:{normalised_value}".encode(), hashlib.sha256).hexdigest()

    def signing_key(self, use: str) -> bytes:
        return self._subkey(f"link-signing/{use}/v1")

    def new_contact_box(self, contact_id: str) -> tuple[ContactBox, bytes]:
        """A fresh contact key: the box that uses it, and the key wrapped for storage."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        wrapped = FORMAT_VERSION + nonce + self._wrapper.encrypt(nonce, key, self._wrap_context(contact_id))
        return ContactBox(self.tenant_id, contact_id, key), wrapped

    def contact_box(self, contact_id: str, wrapped: bytes) -> ContactBox:
        nonce, ciphertext = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
        key = self._wrapper.decrypt(nonce, ciphertext, self._wrap_context(contact_id))
        return ContactBox(self.tenant_id, contact_id, key)

    @cached_property
    def _wrapper(self) -> AESGCM:
        return AESGCM(self._subkey("contact-key-wrap/v1"))

    def _wrap_context(self, contact_id: str) -> bytes:
        return f"{self.tenant_id}|{contact_id}".encode()


class KmsKeyring:
    """Makes tenant root keys with KMS and keeps their plaintext in memory for the container's life."""

    def __init__(self, key_id: str) -> None:
        self._key_id = key_id
        self._roots: dict[str, TenantKeys] = {}

    @staticmethod
    def _context(tenant_id: str) -> dict[str, str]:
        return {"tenant_id": tenant_id, "use": "tenant-root"}

    def new_root_key(self, tenant_id: str) -> bytes:
        """The KMS-encrypted blob of a new root key for the tenant; the plaintext is cached, never stored."""
        with translate_aws_errors():
            result = aws.kms().generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=self._context(tenant_id)
            )
        self._roots[tenant_id] = TenantKeys(tenant_id, result["Plaintext"])
        return result["CiphertextBlob"]

    def tenant_keys(self, tenant_id: str, root_key_blob: bytes) -> TenantKeys:
        cached = self._roots.get(tenant_id)
        if cached is None:
            with translate_aws_errors():
                result = aws.kms().decrypt(
                    CiphertextBlob=root_key_blob, KeyId=self._key_id, EncryptionContext=self._context(tenant_id)
                )
            cached = self._roots[tenant_id] = TenantKeys(tenant_id, result["Plaintext"])
        return cached
