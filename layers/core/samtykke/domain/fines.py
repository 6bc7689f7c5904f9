"""The fine exposure a dry run reports: what sending to the people it excluded would have risked.

Rates are data, one per country, each with its currency and where the figure comes from. A tenant can set its own
rate (`Tenant.fine_rate`), which wins over the table. A country with no rate in the table and no tenant rate gets no
exposure figure: the report says so rather than guess.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FineRate:
    currency: str  # ISO 4217
    per_recipient: int  # in whole units of the currency
    minimum: int
    source: str


# Denmark: 150 kr per recipient, at least 10,000 kr, counted on recipients rather than on complaints (360 Business
# Tool's help page on the Danish practice for unsolicited marketing email).
FINE_RATES: dict[str, FineRate] = {
    "DK": FineRate("DKK", 150, 10_000, "360 Business Tool: Danish practice for unsolicited marketing email"),
}

# The currency of each country samtykke has locales for, for a tenant rate given without one.
CURRENCIES: dict[str, str] = {
    "DK": "DKK",
    "SE": "SEK",
    "NO": "NOK",
    "FI": "EUR",
    "NL": "EUR",
    "DE": "EUR",
    "AT": "EUR",
    "BE": "EUR",
    "IE": "EUR",
    "FR": "EUR",
    "IT": "EUR",
    "ES": "EUR",
    "GB": "GBP",
}


def rate_for(country: str, tenant_rate: FineRate | None = None) -> FineRate | None:
    """The tenant's own rate if it set one, else the country's, else None."""
    if tenant_rate is not None:
        return tenant_rate
    return FINE_RATES.get(country.upper())


def exposure(recipients: int, rate: FineRate) -> int:
    """What messaging `recipients` people without a basis would have risked: per recipient, at least the minimum."""
    if recipients <= 0:
        return 0
    return max(rate.minimum, rate.per_recipient * recipients)
