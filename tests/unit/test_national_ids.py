"""National IDs validated per country with python-stdnum."""

from __future__ import annotations

import pytest

from samtykke.domain.national_ids import InvalidNationalId, validate_national_id


@pytest.mark.parametrize(
    ("country", "given", "stored"),
    [
        ("DK", "2110625629", "211062-5629"),
        ("SE", "880320-0016", "880320-0016"),
        ("NO", "15108695088", "151086 95088"),
        ("FI", "131052-308T", "131052-308T"),
        ("NL", "111222333", "1112.22.333"),
        ("DE", "36574261809", "36 574 261 809"),
        ("GB", "QQ 12 34 56 C", "QQ 12 34 56 C"),
        ("DK", None, None),
        ("DK", "  ", None),
    ],
)
def test_a_valid_number_is_kept_in_its_standard_form(country: str, given: str | None, stored: str | None) -> None:
    assert validate_national_id(given, country) == stored


@pytest.mark.parametrize(
    ("country", "given"),
    [
        ("DK", "hello world <b>"),  # the example
        ("DK", "211062-562"),  # too short (CPR has had no check digit rule since 2007)
        ("DK", "321062-5629"),  # no 32nd of October
        ("SE", "880320-0017"),
        ("NO", "15108695089"),
        ("FI", "131052-308U"),
        ("NL", "111222334"),
        ("DE", "36574261808"),
        ("GB", "<script>alert(1)</script>"),
    ],
)
def test_a_bad_number_gets_422_invalid_national_id(country: str, given: str) -> None:
    with pytest.raises(InvalidNationalId) as refused:
        validate_national_id(given, country)
    assert (refused.value.status, refused.value.code) == (422, "invalid_national_id")
