"""A tenant's own contact fields ("variable fields"): declarations, and checking posted values by type. Pure.

A tenant declares each field with a name, a type and whether it is sensitive. Values live in the contact's
profile under `custom_fields`, sealed with the contact's key like the rest of it. A sensitive one is redacted for
staff without `sensitive:read` and audited when shown, exactly like the national ID (domain/masking.py).

| type | accepts | stored as |
| --- | --- | --- |
| `string` | text up to 200 characters, no control characters or markup | the text, trimmed |
| `integer` | a whole number (JSON number or digits), within ±10^15 | a number |
| `date` | `YYYY-MM-DD` | the ISO date |
| `boolean` | `true`/`false` (JSON), or `true`, `false`, `1`, `0`, `yes`, `no`, `on` from a form or file | a boolean |
| `email` | an email address | normalised, lower-case |
| `phone` | a phone number, local ones read with the tenant's country | E.164 |
| `national_id` | the tenant country's national ID, checked with python-stdnum | its standard written form |

A bad value is 422 `invalid_custom_field`, an undeclared name 422 `unknown_custom_field`; either error's
`details` names each bad field with its own code (e.g. `{"field": "loyalty_no", "code": "invalid_integer"}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from samtykke.domain.errors import InvalidInput

CUSTOM_FIELDS_KEY = "custom_fields"  # the profile's key, and the JSON object a post or an API response uses
MAX_CUSTOM_FIELDS = 30
MAX_STRING_LENGTH = 200
MAX_INTEGER = 10**15
NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Names a custom field may not take: the profile's own fields and the columns and keys an import or a post reads.
RESERVED_NAMES = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "birth_date",
        "locale",
        "national_id",
        "contact_id",
        "purpose",
        "source",
        "custom_fields",
    }
)
UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f<>]")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


class CustomFieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DATE = "date"
    BOOLEAN = "boolean"
    EMAIL = "email"
    PHONE = "phone"
    NATIONAL_ID = "national_id"


CustomValue = str | int | bool


class InvalidCustomField(InvalidInput):
    code = "invalid_custom_field"


class UnknownCustomField(InvalidInput):
    code = "unknown_custom_field"


def check_declarations(names: Iterable[str]) -> None:
    """Each declared name is a safe identifier, not reserved, and declared once; `InvalidInput` otherwise."""
    seen: set[str] = set()
    for name in names:
        if not NAME.match(name):
            raise InvalidInput(
                f"Custom field name '{name}' must be 2-40 lower-case letters, digits or _, starting with a letter",
                code="invalid_custom_field_name",
            )
        if name in RESERVED_NAMES:
            raise InvalidInput(f"'{name}' is a built-in field, not a custom one", code="reserved_custom_field_name")
        if name in seen:
            raise InvalidInput(f"Custom field '{name}' is declared twice", code="duplicate_custom_field")
        seen.add(name)


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value.strip()


def _string(value: Any, _: str) -> str:
    text = _as_text(value)
    if len(text) > MAX_STRING_LENGTH or UNSAFE_TEXT.search(text):
        raise ValueError("too long, or holds control characters or markup")
    return text


def _integer(value: Any, _: str) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean")
    if isinstance(value, int):
        number = value
    elif re.fullmatch(r"-?\d{1,16}", text := _as_text(value)):
        number = int(text)
    else:
        raise ValueError("not a whole number")
    if abs(number) > MAX_INTEGER:
        raise ValueError("out of range")
    return number


def _date(value: Any, _: str) -> str:
    text = _as_text(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError("not YYYY-MM-DD")
    return date.fromisoformat(text).isoformat()


def _boolean(value: Any, _: str) -> bool:
    if isinstance(value, bool):
        return value
    word = _as_text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("not a boolean")


def _email(value: Any, _: str) -> str:
    from samtykke.domain.addresses import normalise_email

    return normalise_email(_as_text(value))


def _phone(value: Any, country: str) -> str:
    from samtykke.domain.addresses import normalise_phone

    return normalise_phone(_as_text(value), country)


def _national_id(value: Any, country: str) -> str:
    from samtykke.domain.national_ids import validate_national_id

    checked = validate_national_id(_as_text(value), country)
    if checked is None:
        raise ValueError("empty")
    return checked


PARSERS: dict[CustomFieldType, Callable[[Any, str], CustomValue]] = {
    CustomFieldType.STRING: _string,
    CustomFieldType.INTEGER: _integer,
    CustomFieldType.DATE: _date,
    CustomFieldType.BOOLEAN: _boolean,
    CustomFieldType.EMAIL: _email,
    CustomFieldType.PHONE: _phone,
    CustomFieldType.NATIONAL_ID: _national_id,
}


def validate_custom_values(
    declared: Mapping[str, CustomFieldType], posted: Mapping[str, Any], country: str
) -> dict[str, CustomValue]:
    """The posted values, each checked and normalised by its declared type; empty values are left out.

    Every field is checked before the error is raised, so its `details` name every bad field at once."""
    unknown = sorted(name for name in posted if name not in declared)
    if unknown:
        undeclared = UnknownCustomField(f"Not a declared custom field: {', '.join(unknown)}")
        undeclared.details = [{"field": name, "code": "unknown_custom_field"} for name in unknown]
        raise undeclared
    values: dict[str, CustomValue] = {}
    bad: list[dict[str, Any]] = []
    for name, raw in posted.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        kind = declared[name]
        try:
            values[name] = PARSERS[kind](raw, country)
        except (ValueError, InvalidInput):
            bad.append({"field": name, "type": kind.value, "code": f"invalid_{kind.value}"})
    if bad:
        error = InvalidCustomField(f"Not valid for its type: {', '.join(b['field'] for b in bad)}")
        error.details = bad
        raise error
    return values
