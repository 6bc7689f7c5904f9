"""Custom fields: declarations, values checked by type, proposals, and redaction by path. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from samtykke.domain.custom_fields import (
    CustomFieldType,
    InvalidCustomField,
    UnknownCustomField,
    check_declarations,
    validate_custom_values,
)
from samtykke.domain.errors import InvalidInput
from samtykke.domain.imports import Header, ImportRow, IssueCode, RowIssue, parse_header, validate_row
from samtykke.domain.masking import REDACTED, Shaping, has_sensitive_values, plain_custom_field, sensitive_keys, shape
from samtykke.domain.profile import changed_names, previous_values, proposed_changes

T = CustomFieldType
DECLARED = {
    "shop": T.STRING,
    "loyalty_no": T.INTEGER,
    "joined": T.DATE,
    "catalogue": T.BOOLEAN,
    "work_email": T.EMAIL,
    "work_phone": T.PHONE,
    "member_cpr": T.NATIONAL_ID,
}


@pytest.mark.parametrize(
    ("name", "given", "stored"),
    [
        ("shop", "  Nørrebro  ", "Nørrebro"),
        ("loyalty_no", 4711, 4711),
        ("loyalty_no", "-12", -12),
        ("joined", "2024-02-29", "2024-02-29"),
        ("catalogue", False, False),
        ("catalogue", "Yes", True),
        ("catalogue", "0", False),
        ("work_email", "Bo@Example.DK", "bo@example.dk"),
        ("work_phone", "20 30 40 50", "+4520304050"),
        ("member_cpr", "2110625629", "211062-5629"),
    ],
)
def test_a_valid_value_is_kept_normalised(name: str, given: Any, stored: Any) -> None:
    assert validate_custom_values(DECLARED, {name: given}, "DK") == {name: stored}


def test_empty_values_are_left_out() -> None:
    assert validate_custom_values(DECLARED, {"shop": "  ", "loyalty_no": None}, "DK") == {}


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("shop", "x" * 201),
        ("shop", "<b>bold</b>"),
        ("shop", "line\nbreak"),
        ("shop", 12),
        ("loyalty_no", "1.5"),
        ("loyalty_no", True),
        ("loyalty_no", 10**16),
        ("joined", "2023-02-29"),
        ("joined", "29/02/2024"),
        ("catalogue", "maybe"),
        ("work_email", "not-an-email"),
        ("work_phone", "12"),
        ("member_cpr", "hello world <b>"),
    ],
)
def test_a_bad_value_names_its_field_and_type(name: str, given: Any) -> None:
    with pytest.raises(InvalidCustomField) as raised:
        validate_custom_values(DECLARED, {name: given}, "DK")
    kind = DECLARED[name].value
    assert raised.value.details == [{"field": name, "type": kind, "code": f"invalid_{kind}"}]
    assert raised.value.status == 422


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidCustomField) as raised:
        validate_custom_values(DECLARED, {"loyalty_no": "x", "shop": "ok", "joined": "x"}, "DK")
    assert [d["field"] for d in raised.value.details or []] == ["loyalty_no", "joined"]


def test_an_undeclared_name_is_refused() -> None:
    with pytest.raises(UnknownCustomField) as raised:
        validate_custom_values(DECLARED, {"shop": "ok", "shoe_size": 44}, "DK")
    assert raised.value.details == [{"field": "shoe_size", "code": "unknown_custom_field"}]


@pytest.mark.parametrize(
    ("names", "code"),
    [
        (["Shop"], "invalid_custom_field_name"),
        (["x"], "invalid_custom_field_name"),
        (["_shop"], "invalid_custom_field_name"),
        (["national_id"], "reserved_custom_field_name"),
        (["custom_fields"], "reserved_custom_field_name"),
        (["shop", "shop"], "duplicate_custom_field"),
    ],
)
def test_a_bad_declaration_is_refused(names: list[str], code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_declarations(names)
    assert raised.value.code == code


def test_a_post_proposes_only_the_custom_fields_that_change() -> None:
    current = {"first_name": "Anna", "custom_fields": {"shop": "A", "loyalty_no": 1}}
    posted = {"first_name": "Anna", "custom_fields": {"shop": "A", "loyalty_no": 2, "joined": "2024-01-01"}}

    changes = proposed_changes(current, posted)

    assert changes == {"custom_fields": {"loyalty_no": 2, "joined": "2024-01-01"}}
    assert changed_names(changes) == ["custom_fields.joined", "custom_fields.loyalty_no"]
    assert previous_values(current, changes) == {"custom_fields": {"loyalty_no": 1, "joined": None}}
    assert proposed_changes(current, {"custom_fields": {"shop": "A"}}) == {}


def test_custom_fields_are_redacted_by_path_unless_declared_not_sensitive() -> None:
    keys = sensitive_keys([plain_custom_field("shop")])
    body = {
        "contact_id": "con_1",
        "member_cpr": "kept",
        "custom_fields": {"member_cpr": "010190-1234", "shop": "A", "removed_field": "x"},
    }

    shaped = shape(body, Shaping(mask_addresses=False, withhold_evidence=False, redact_keys=keys))

    assert shaped == {
        "contact_id": "con_1",
        "member_cpr": "kept",
        "custom_fields": {"member_cpr": REDACTED, "shop": "A", "removed_field": REDACTED},
    }
    assert has_sensitive_values(body, keys)
    assert not has_sensitive_values(shaped, keys)
    assert not has_sensitive_values({"member_cpr": "x", "custom_fields": {"shop": "A"}}, keys)


def test_the_settings_declarations_are_not_values() -> None:
    settings = {"custom_fields": [{"name": "member_cpr", "type": "national_id", "sensitive": True}]}
    keys = sensitive_keys([])

    assert shape(settings, Shaping(mask_addresses=True, withhold_evidence=True, redact_keys=keys)) == settings
    assert not has_sensitive_values(settings, keys)


def test_an_import_header_reads_declared_custom_columns() -> None:
    header = parse_header("Email;Loyalty No;Shoe size", ["loyalty_no"])

    assert isinstance(header, Header)
    assert header.columns == {"email": 0, "loyalty_no": 1}
    assert header.ignored == ["Shoe size"]


def test_an_import_row_checks_its_custom_columns_by_type() -> None:
    header = parse_header("email,loyalty_no,member_cpr,joined", DECLARED)
    assert isinstance(header, Header)

    row = validate_row(2, ["a@example.dk", "42", "", "2024-01-01"], header, "DK", DECLARED)
    assert isinstance(row, ImportRow)
    assert row.custom_fields == {"loyalty_no": 42, "joined": "2024-01-01"}

    bad = validate_row(3, ["a@example.dk", "x", "hello", ""], header, "DK", DECLARED)
    assert bad == RowIssue(
        IssueCode.INVALID_CUSTOM_FIELD, "loyalty_no: invalid_integer, member_cpr: invalid_national_id"
    )

    # A declaration removed after the header was read: its column is ignored
    assert validate_row(4, ["a@example.dk", "x", "", ""], header, "DK", {"joined": T.DATE}) == ImportRow(
        4, "a@example.dk", None, None, None, None, None, {}
    )
