"""Masking and withholding personal data in API responses, by what the reader may see. Pure.

Applied centrally to every admin response (`api.shaping`), never by handlers one by one:
- without `addresses:read`: every email becomes `j***@example.dk` and every phone `+45******50`, wherever it
  appears in the body (by value, and by field name for phones);
- without `evidence:read`: every `evidence` value becomes null;
- without `sensitive:read`: `national_id` and the tenant's own `sensitive_fields` become `"[redacted]"`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Deliberately generous: anything that looks like an address is masked, in any string.
EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+'-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
E164_IN_TEXT = re.compile(r"(?<![\w+])\+[1-9]\d{6,14}(?!\d)")
PHONE_LIKE = re.compile(r"^\+?[\d][\d\s().-]{5,24}\d$")
PHONE_KEYS = ("phone", "msisdn", "mobile", "sms_to")
EVIDENCE_KEYS = frozenset({"evidence"})
SENSITIVE_KEYS = frozenset({"national_id", "cpr", "personnummer", "ssn"})
REDACTED = "[redacted]"


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 6:
        return "***"
    prefix = "+" + "".join(digits[:2]) if phone.strip().startswith("+") else "".join(digits[:2])
    return f"{prefix}{'*' * (len(digits) - 4)}{''.join(digits[-2:])}"


def mask_text(text: str) -> str:
    """Every email address, and every E.164 phone number, in a string."""
    masked = EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return E164_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), masked)


def _is_phone_key(key: str) -> bool:
    lowered = key.lower()
    return any(k in lowered for k in PHONE_KEYS)


@dataclass(frozen=True)
class Shaping:
    mask_addresses: bool
    withhold_evidence: bool
    redact_keys: frozenset[str]  # empty when the reader has sensitive:read

    @property
    def is_noop(self) -> bool:
        return not (self.mask_addresses or self.withhold_evidence or self.redact_keys)


def shape(value: Any, shaping: Shaping, key: str | None = None) -> Any:
    """A copy of a JSON value with what the reader may not see masked, withheld or redacted."""
    if key is not None:
        if key in shaping.redact_keys and value is not None:
            return REDACTED
        if shaping.withhold_evidence and key in EVIDENCE_KEYS:
            return None
    if isinstance(value, dict):
        return {k: shape(v, shaping, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v, shaping, key) for v in value]
    if isinstance(value, str) and shaping.mask_addresses:
        if key is not None and _is_phone_key(key) and PHONE_LIKE.match(value.strip()):
            return mask_phone(value)
        return mask_text(value)
    return value


def sensitive_keys(tenant_fields: Iterable[str]) -> frozenset[str]:
    return SENSITIVE_KEYS | frozenset(tenant_fields)


def has_sensitive_values(value: Any, keys: frozenset[str], key: str | None = None) -> bool:
    """Whether a JSON value holds a non-null value under any of `keys` (for auditing sensitive reads)."""
    if key in keys and value is not None and value != REDACTED:
        return True
    if isinstance(value, dict):
        return any(has_sensitive_values(v, keys, k) for k, v in value.items())
    if isinstance(value, list):
        return any(has_sensitive_values(v, keys, key) for v in value)
    return False


def unmasked_addresses(text: str) -> list[str]:
    """Emails in `text` that are not masked (tests scan response bodies with this)."""
    return [m.group(0) for m in EMAIL.finditer(text) if "***@" not in m.group(0)]
