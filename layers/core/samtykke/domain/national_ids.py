"""National identity numbers, validated per country with python-stdnum before anything is stored. Pure.

| country | number | stdnum module |
| --- | --- | --- |
| DK | CPR-nummer | `stdnum.dk.cpr` |
| SE | personnummer | `stdnum.se.personnummer` |
| NO | fødselsnummer | `stdnum.no.fodselsnummer` |
| FI | henkilötunnus (HETU) | `stdnum.fi.hetu` |
| NL | BSN | `stdnum.nl.bsn` |
| DE | Steuer-ID (steuerliche Identifikationsnummer) | `stdnum.de.idnr` |

A valid number is stored in its country's standard written form (`format`: `211062-5629`, `36 574 261 809`).
Another country's number is accepted only as letters, digits, spaces and dashes (no markup, no free text).
A bad one is 422 `invalid_national_id`.
"""

from __future__ import annotations

import importlib
import re

from samtykke.domain.errors import InvalidInput

VALIDATORS: dict[str, tuple[str, str]] = {
    "DK": ("stdnum.dk.cpr", "a Danish CPR number (DDMMYY-XXXX)"),
    "SE": ("stdnum.se.personnummer", "a Swedish personnummer (YYMMDD-XXXX)"),
    "NO": ("stdnum.no.fodselsnummer", "a Norwegian fødselsnummer (11 digits)"),
    "FI": ("stdnum.fi.hetu", "a Finnish henkilötunnus (DDMMYYCZZZQ)"),
    "NL": ("stdnum.nl.bsn", "a Dutch BSN (9 digits)"),
    "DE": ("stdnum.de.idnr", "a German Steuer-ID (11 digits)"),
}
OTHER_COUNTRY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{3,31}$")


class InvalidNationalId(InvalidInput):
    code = "invalid_national_id"


def validate_national_id(value: str | None, country: str) -> str | None:
    """The number in its standard written form, or None when none was given; `InvalidNationalId` if invalid."""
    if value is None or not value.strip():
        return None
    validator = VALIDATORS.get(country.upper())
    if validator is None:
        if not OTHER_COUNTRY.match(value.strip()):
            raise InvalidNationalId("The national ID may hold only letters, digits, spaces and dashes")
        return value.strip()
    from stdnum.exceptions import ValidationError  # imported where a national ID is given, not on every capture

    module_name, what = validator
    module = importlib.import_module(module_name)
    try:
        valid = module.validate(value)
    except ValidationError as exc:  # format, length, checksum or an impossible birth date
        raise InvalidNationalId(f"The national ID is not {what}") from exc
    return str(module.format(valid))
