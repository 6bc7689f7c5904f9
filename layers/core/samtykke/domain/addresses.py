"""Normalising email addresses and phone numbers, so that one person has one blind index per address."""

from __future__ import annotations

from samtykke.domain.errors import InvalidInput

# email_validator and phonenumbers are imported on first use: together they cost about 50 ms of every cold start,
# and most handlers import this module without normalising an address.


def normalise_email(raw: str) -> str:
    """Syntax-checked and lower-cased (the local part too: mailbox providers treat it case-insensitively)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"Not a valid email address: {exc}", code="invalid_email") from exc
    return checked.normalized.lower()


def normalise_phone(raw: str, default_country: str) -> str:
    """E.164, reading local formats with the tenant's default country."""
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, default_country.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"Not a valid phone number: {exc}", code="invalid_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("Not a valid phone number", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
