"""Masking and withholding personal data in API responses, by what the reader may see. Pure.

Applied centrally to every admin response (`api.shaping`), never by handlers one by one:
- without `addresses:read`: every email becomes `j***@example.dk` and every phone `+45******50`, wherever it
  appears in the body (by value, and by field name for phones);
- without `evidence:read`: every `evidence` value becomes null;
- without `sensitive:read`: `national_id`, the tenant's `sensitive_fields` and its custom fields other than those
  declared not sensitive become `"[redacted]"`. A custom field is matched by its path, `custom_fields.<name>`, so
  it never redacts another key of the same name; a stored value whose declaration was removed stays redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from samtykke.domain.custom_fields import CUSTOM_FIELDS_KEY

# Deliberately generous: anything that looks like an address is masked, in any string.
EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+'-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
E164_IN_TEXT = re.compile(r"(?<![\w+])\+[1-9]\d{6,14}(?!\d)")
PHONE_LIKE = re.compile(r"^\+?[\d][\d\s().-]{5,24}\d$")
PHONE_KEYS = ("phone", "msisdn", "mobile", "sms_to")
EVIDENCE_KEYS = frozenset({"evidence"})
ANY_CUSTOM_FIELD = f"{CUSTOM_FIELDS_KEY}.*"
# Redacted by default: every custom field too, unless the tenant declares it not sensitive (`plain_custom_field`).
SENSITIVE_KEYS = frozenset({"national_id", "cpr", "personnummer", "ssn", ANY_CUSTOM_FIELD})
REDACTED = "[redacted]"


def plain_custom_field(name: str) -> str:
    """The entry in a redaction set that exempts a custom field declared not sensitive."""
    return f"!{CUSTOM_FIELDS_KEY}.{name}"


def _is_redacted(key: str, keys: frozenset[str]) -> bool:
    if key in keys:
        return True
    custom = key.startswith(f"{CUSTOM_FIELDS_KEY}.")
    return custom and ANY_CUSTOM_FIELD in keys and f"!{key}" not in keys


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


def _child_key(parent: str | None, key: str) -> str:
    """The name redaction matches: a custom field's path, or the key itself."""
    return f"{CUSTOM_FIELDS_KEY}.{key}" if parent == CUSTOM_FIELDS_KEY else key


def _item_key(key: str | None) -> str | None:
    """The key a list's items are shaped under. Custom field values are an object; a list under that name is the
    settings' declarations, whose items are not values."""
    return None if key == CUSTOM_FIELDS_KEY else key


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
        if value is not None and _is_redacted(key, shaping.redact_keys):
            return REDACTED
        if shaping.withhold_evidence and key in EVIDENCE_KEYS:
            return None
    if isinstance(value, dict):
        return {k: shape(v, shaping, _child_key(key, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v, shaping, _item_key(key)) for v in value]
    if isinstance(value, str) and shaping.mask_addresses:
        if key is not None and _is_phone_key(key) and PHONE_LIKE.match(value.strip()):
            return mask_phone(value)
        return mask_text(value)
    return value


def sensitive_keys(tenant_fields: Iterable[str]) -> frozenset[str]:
    return SENSITIVE_KEYS | frozenset(tenant_fields)


def has_sensitive_values(value: Any, keys: frozenset[str], key: str | None = None) -> bool:
    """Whether a JSON value holds a non-null value under any of `keys` (for auditing sensitive reads)."""
    if key is not None and value is not None and value != REDACTED and _is_redacted(key, keys):
        return True
    if isinstance(value, dict):
        return any(has_sensitive_values(v, keys, _child_key(key, k)) for k, v in value.items())
    if isinstance(value, list):
        return any(has_sensitive_values(v, keys, _item_key(key)) for v in value)
    return False


def unmasked_addresses(text: str) -> list[str]:
    """Emails in `text` that are not masked (tests scan response bodies with this)."""
    return [m.group(0) for m in EMAIL.finditer(text) if "***@" not in m.group(0)]
