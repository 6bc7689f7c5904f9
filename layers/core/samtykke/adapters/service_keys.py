"""The service-level directory key: one KMS data key for the whole deployment, for lookups made before any
tenant is known (which tenants a staff email belongs to; failure counters per email and per IP).

It is made by KMS `GenerateDataKey` on first use (encryption context `use=staff-directory`), stored only in
its encrypted form at `pk=SVC, sk=DIRECTORY_KEY`, and decrypted once per container. Tenant data never uses it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading

from samtykke.adapters import aws
from samtykke.adapters.errors import translate_aws_errors
from samtykke.adapters.repository import AlreadyExists
from samtykke.adapters.staff_repository import DIRECTORY_KEY_SK, SERVICE_PK, StaffRepository

_CONTEXT = {"use": "staff-directory"}
_cache: dict[tuple[str, str], bytes] = {}
_lock = threading.Lock()


def directory_key(repo: StaffRepository, kms_key_id: str) -> bytes:
    cache_key = (repo.table_name, kms_key_id)
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        item = repo.get(SERVICE_PK, DIRECTORY_KEY_SK)
        if item is None:
            with translate_aws_errors():
                made = aws.kms().generate_data_key(KeyId=kms_key_id, KeySpec="AES_256", EncryptionContext=_CONTEXT)
            try:
                repo.put_new({"pk": SERVICE_PK, "sk": DIRECTORY_KEY_SK, "blob": made["CiphertextBlob"]})
                _cache[cache_key] = made["Plaintext"]
                return made["Plaintext"]
            except AlreadyExists:  # another container made it first: use theirs
                item = repo.get(SERVICE_PK, DIRECTORY_KEY_SK)
                assert item is not None
        with translate_aws_errors():
            plaintext = aws.kms().decrypt(CiphertextBlob=item["blob"], EncryptionContext=_CONTEXT)["Plaintext"]
        _cache[cache_key] = plaintext
        return plaintext


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def forget_keys() -> None:
    """Tests that switch AWS backends."""
    with _lock:
        _cache.clear()
