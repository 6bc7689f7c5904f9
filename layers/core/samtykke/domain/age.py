"""GDPR Art. 8: the age of digital consent per country, kept as data with the date each rule took effect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class AgeRule:
    country: str
    age: int
    effective_from: date


# Member-state choices under Art. 8(1); the default where a country has not chosen is 16.
AGE_OF_DIGITAL_CONSENT: tuple[AgeRule, ...] = (
    AgeRule("DK", 13, date(2018, 5, 25)),
    AgeRule("SE", 13, date(2018, 5, 25)),
    AgeRule("NO", 13, date(2018, 7, 20)),
    AgeRule("FI", 13, date(2019, 1, 1)),
    AgeRule("NL", 16, date(2018, 5, 25)),
    AgeRule("DE", 16, date(2018, 5, 25)),
    AgeRule("IE", 16, date(2018, 5, 25)),
    AgeRule("FR", 15, date(2018, 6, 20)),
    AgeRule("AT", 14, date(2018, 5, 25)),
    AgeRule("IT", 14, date(2018, 9, 19)),
    AgeRule("ES", 14, date(2018, 12, 7)),
)
GDPR_DEFAULT_AGE = 16


def age_of_digital_consent(country: str, on: date) -> int:
    rules = [r for r in AGE_OF_DIGITAL_CONSENT if r.country == country.upper() and r.effective_from <= on]
    if not rules:
        return GDPR_DEFAULT_AGE
    return max(rules, key=lambda r: r.effective_from).age


def age_on(birth_date: date, on: date) -> int:
    had_birthday = (on.month, on.day) >= (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (0 if had_birthday else 1)


def is_minor(birth_date: date | None, country: str, on: date) -> bool:
    """True when the person is younger than the country's age of digital consent. Unknown age is not minor."""
    if birth_date is None:
        return False
    return age_on(birth_date, on) < age_of_digital_consent(country, on)
