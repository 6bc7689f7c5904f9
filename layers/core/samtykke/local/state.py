"""`samtykke local --state DIR`: the local stack's data kept across restarts.

On a clean stop the stack pickles, in one go (so that objects the backends share stay shared), moto's backends of
every service it provisions, the resources it provisioned, the demo tenant (its admin API key is only ever shown
once) and the outbox's send times. On start it loads them back into moto before anything is served, and neither
provisions nor seeds again. moto has no persistence of its own (its `/moto-api/` only resets or dumps), so this
pickles its models, with two things pickle cannot take made portable: KMS private keys (saved as PKCS#8 DER) and
locks (new ones on load). The file is the developer's own and is trusted like code: never load one from elsewhere.
"""

from __future__ import annotations

import io
import os
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from moto.backends import get_backend

from samtykke.local import outbox

if TYPE_CHECKING:
    from samtykke.bootstrap import DemoTenant
    from samtykke.local.provision import Resources

STATE_FILE = "local-state.pickle"
FORMAT = 1  # bumped when what the file holds changes shape
# Every service `provision` creates resources in or the handlers write to.
SERVICES = ("dynamodb", "dynamodbstreams", "kms", "s3", "sqs", "sns", "ses", "sesv2", "events", "iam")
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_PRIVATE_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)


@dataclass(frozen=True)
class SavedStack:
    resources: Resources
    demo: DemoTenant


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _PRIVATE_KEYS):
            der = obj.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _private_key, (der,)
        if isinstance(obj, _LOCK_TYPES):
            return (threading.RLock if isinstance(obj, _LOCK_TYPES[1]) else threading.Lock), ()
        return NotImplemented


def _private_key(der: bytes) -> Any:
    return serialization.load_der_private_key(der, None)


def state_file(directory: Path) -> Path:
    return directory / STATE_FILE


def save(directory: Path, saved: SavedStack) -> None:
    """Writes the state atomically: a stop cut short leaves the previous state, never half of one."""
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    backends = {name: dict(get_backend(name)) for name in SERVICES}  # type: ignore[call-overload]
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
        {"format": FORMAT, "backends": backends, "stack": saved, "sent_at": dict(outbox.sent_times())}
    )
    partial = state_file(directory).with_suffix(".partial")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, state_file(directory))


def load(directory: Path) -> SavedStack | None:
    """Puts the saved backends into moto (before it serves anything); the stack they belong to, or None if none."""
    path = state_file(directory)
    if not path.exists():
        return None
    data = pickle.loads(path.read_bytes())  # noqa: S301 - the developer's own file, written by `save`
    if data.get("format") != FORMAT:
        raise RuntimeError(f"{path} was written by another version of samtykke local; move it away to start afresh")
    for name, accounts in data["backends"].items():
        backend = get_backend(name)
        backend.clear()
        backend.update(accounts)
    outbox.restore_send_times(data["sent_at"])
    saved: SavedStack = data["stack"]
    return saved
