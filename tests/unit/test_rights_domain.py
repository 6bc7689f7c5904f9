"""Pure rules of data-subject rights: evidence file checks and keys, and reading an import file record by record."""

from __future__ import annotations

import hashlib

import pytest

from samtykke.domain.imports import (
    FileProblem,
    Header,
    ImportRow,
    IssueCode,
    parse_header,
    physical_lines,
    records,
    split_fields,
    validate_row,
)
from samtykke.domain.uploads import (
    MAX_EVIDENCE_BYTES,
    OwnerKind,
    Rejection,
    check_upload,
    evidence_key,
    parse_evidence_key,
    sha256_base64,
    sniff_content_type,
)

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
CONTACT = "con_019a5e2b4c1d0a1b2c3d4e5f6a7b8c9d"
EVENT = "evt_019a5e2b4c1d0a1b2c3d4e5f6a7b8c9e"


def _check(
    data: bytes, *, declared_type: str = "image/png", stored_type: str = "image/png", **overrides: object
) -> object:
    arguments: dict[str, object] = {
        "declared_type": declared_type,
        "declared_size": len(data),
        "declared_sha256": hashlib.sha256(data).hexdigest(),
        "stored_type": stored_type,
        "size": len(data),
        "head": data[:16],
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    arguments.update(overrides)
    return check_upload(**arguments)  # type: ignore[arg-type]


def test_a_file_is_accepted_only_when_bytes_size_type_and_hash_all_match() -> None:
    assert _check(PNG) is None
    assert _check(PNG, stored_type="image/png; charset=binary") is None
    assert _check(PNG, stored_type="text/plain") is Rejection.TYPE_MISMATCH
    assert _check(PNG, declared_type="application/pdf") is Rejection.TYPE_MISMATCH
    assert _check(b"GIF89a" + b"\x00" * 40, declared_type="image/png") is Rejection.TYPE_NOT_ALLOWED
    assert _check(PNG, sha256="0" * 64) is Rejection.SHA256_MISMATCH
    assert _check(PNG, size=len(PNG) + 1) is Rejection.SIZE_MISMATCH
    assert _check(PNG, size=MAX_EVIDENCE_BYTES + 1, sha256=None) is Rejection.TOO_LARGE


def test_types_are_told_by_their_magic_bytes() -> None:
    assert sniff_content_type(PNG) == "image/png"
    assert sniff_content_type(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff_content_type(b"%PDF-1.7\n") == "application/pdf"
    assert sniff_content_type(b"<svg xmlns=") is None
    assert sniff_content_type(b"") is None


def test_evidence_keys_round_trip_and_nothing_else_parses() -> None:
    key = evidence_key("acme", OwnerKind.CONTACT, CONTACT, EVENT, 3, "image/jpeg")
    assert key == f"evidence/acme/contacts/{CONTACT}/{EVENT}/003.jpg"
    parsed = parse_evidence_key(key)
    assert parsed is not None
    assert (parsed.tenant_id, parsed.kind, parsed.owner_id, parsed.ref_id, parsed.n) == (
        "acme",
        OwnerKind.CONTACT,
        CONTACT,
        EVENT,
        3,
    )
    for bad in (
        f"evidence/acme/contacts/{CONTACT}/{EVENT}/003.exe",
        f"evidence/acme/contacts/{CONTACT}/../003.png",
        f"imports/acme/{CONTACT}/source.csv",
        f"evidence/Acme/contacts/{CONTACT}/{EVENT}/003.png",
    ):
        assert parse_evidence_key(bad) is None
    assert sha256_base64("00" * 32) == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _all(data: bytes, offset: int = 0, line: int = 1, chunk: int = 7) -> list[tuple[int, int, int, str | None, object]]:
    chunks = [data[offset + i : offset + i + chunk] for i in range(0, len(data) - offset, chunk)]
    return [
        (r.line, r.end_offset, r.next_line, r.text, r.problem) for r in records(physical_lines(chunks), offset, line)
    ]


def test_records_keep_exact_byte_offsets_and_line_numbers_whatever_the_chunking() -> None:
    data = '\ufeffemail,first_name\r\nanna@example.dk,"Anna\nMaria"\r\n\r\nbo@example.dk,Bo'.encode()
    second, blank, last = data.index(b"anna"), data.index(b"\r\n\r\n") + 2, data.index(b"bo@")
    expected = [
        (1, second, 2, "email,first_name", None),  # the byte-order mark is read, not returned
        (2, blank, 4, 'anna@example.dk,"Anna\nMaria"', None),  # a quoted newline: one record, two lines
        (4, last, 5, "", None),
        (5, len(data), 6, "bo@example.dk,Bo", None),
    ]
    for chunk in (1, 3, 7, 64, 10_000):
        assert _all(data, chunk=chunk) == expected

    # Resuming from any saved cursor reads exactly the rest, with the same line numbers
    for position in range(1, len(expected)):
        _, offset, next_line, _, _ = expected[position - 1]
        assert _all(data, offset, next_line) == expected[position:]


def test_an_unbalanced_quote_costs_one_line_not_the_rest_of_the_file() -> None:
    data = b'email\n"broken@example.dk\nfine@example.dk\nalso@example.dk\n'
    result = _all(data)
    assert [(line, text, problem) for line, _, _, text, problem in result] == [
        (1, "email", None),
        (2, None, IssueCode.UNBALANCED_QUOTES),
        (3, "fine@example.dk", None),
        (4, "also@example.dk", None),
    ]
    assert result[-1][1] == len(data)


def test_a_line_that_is_not_utf8_is_reported_alone() -> None:
    result = _all(b"email\n\xff\xfe@example.dk\nok@example.dk\n")
    assert [(line, problem) for line, _, _, _, problem in result] == [
        (1, None),
        (2, IssueCode.INVALID_ENCODING),
        (3, None),
    ]


def test_the_header_sets_the_delimiter_and_needs_an_address_column() -> None:
    header = parse_header("E-mail;Phone;First name;Shoe size")
    assert isinstance(header, Header)
    assert header.delimiter == ";"
    assert header.columns == {"phone": 1, "first_name": 2}
    assert parse_header("Email;Phone").columns == {"email": 0, "phone": 1}  # type: ignore[union-attr]
    assert header.ignored == ["E-mail", "Shoe size"]
    assert parse_header("name,city") is FileProblem.NO_ADDRESS_COLUMN
    assert split_fields('a,"b,c",d', ",") == ["a", "b,c", "d"]
    assert split_fields('a,"b', ",") is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Anna@Example.dk,,Anna,1990-05-01,DA", ("anna@example.dk", None, "Anna", "1990-05-01", "da")),
        (",20 12 34 56,,,", (None, "+4520123456", None, None, None)),
        ("not-an-email,,,,", IssueCode.INVALID_EMAIL),
        (",123,,,", IssueCode.INVALID_PHONE),
        (",,Anna,,", IssueCode.ADDRESS_REQUIRED),
        ("a@example.dk,,,05/01/1990,", IssueCode.INVALID_BIRTH_DATE),
        ("a@example.dk,,,,xx", IssueCode.INVALID_LOCALE),
        ("a@example.dk,,,,,surplus", IssueCode.TOO_MANY_FIELDS),
        ("a@example.dk,,,,,", ("a@example.dk", None, None, None, None)),
        (f"a@example.dk,,{'x' * 101},,", IssueCode.FIELD_TOO_LONG),
    ],
)
def test_rows_are_validated_and_normalised(line: str, expected: object) -> None:
    header = parse_header("email,phone,first_name,birth_date,locale")
    assert isinstance(header, Header)
    fields = split_fields(line, ",")
    assert fields is not None
    result = validate_row(7, fields, header, "DK")
    if isinstance(expected, IssueCode):
        assert result is expected
    else:
        assert isinstance(result, ImportRow)
        birth = result.birth_date.isoformat() if result.birth_date else None
        assert (result.email, result.phone, result.first_name, birth, result.locale) == expected
        assert result.line == 7
