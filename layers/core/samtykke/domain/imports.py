"""Lawful imports: reading the CSV record by record from a byte offset, and validating each row. Pure.

The file is read as a stream of physical lines from a saved byte offset, so an import resumes exactly where it
stopped. A record is one or more physical lines with balanced double quotes (a quoted field may hold a newline).
A record's line number is the number of its first physical line, counting the header as line 1, which is what a
spreadsheet shows.

Columns (a header row is required; names are case-insensitive, unknown columns are ignored and reported):
`email`, `phone`, `first_name`, `last_name`, `birth_date` (YYYY-MM-DD), `locale` (da, sv, nb, nl, de, en), and
the tenant's declared custom fields by name, each checked by its type (domain/custom_fields.py).
The delimiter is read from the header: comma, semicolon (as spreadsheets in Danish write) or tab.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from samtykke.domain.addresses import normalise_email, normalise_phone
from samtykke.domain.custom_fields import CustomFieldType, CustomValue, InvalidCustomField, validate_custom_values
from samtykke.domain.defaults import SUPPORTED_LOCALES
from samtykke.domain.errors import InvalidInput

COLUMNS: tuple[str, ...] = ("email", "phone", "first_name", "last_name", "birth_date", "locale")
ADDRESS_COLUMNS = frozenset({"email", "phone"})
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_RECORD_BYTES = 16 * 1024
MAX_RECORD_LINES = 20  # a record that spans more lines than this has an unbalanced quote
MAX_NAME_LENGTH = 100
DELIMITERS = (",", ";", "\t")
UTF8_BOM = b"\xef\xbb\xbf"


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"  # created; the CSV has not been uploaded and the import not started
    QUEUED = "queued"  # started; the first chunk is on the queue
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # the file as a whole was unusable (checksum, header); nothing was imported


class IssueKind(StrEnum):
    INVALID = "invalid"  # the row is malformed and was not imported
    SKIPPED = "skipped"  # the row is valid but was (partly) not imported: suppressed, withdrawn, a minor…


class IssueCode(StrEnum):
    # invalid rows
    ADDRESS_REQUIRED = "address_required"
    INVALID_EMAIL = "invalid_email"
    INVALID_PHONE = "invalid_phone"
    INVALID_BIRTH_DATE = "invalid_birth_date"
    INVALID_LOCALE = "invalid_locale"
    INVALID_CUSTOM_FIELD = "invalid_custom_field"  # the detail names each bad field and its code
    FIELD_TOO_LONG = "field_too_long"
    TOO_MANY_FIELDS = "too_many_fields"
    INVALID_ENCODING = "invalid_encoding"
    UNBALANCED_QUOTES = "unbalanced_quotes"
    MALFORMED_ROW = "malformed_row"
    # skipped rows (or channels)
    SUPPRESSED = "suppressed"  # unsubscribed, SMS STOP, bounce, complaint, erased: never re-granted by an import
    PREVIOUSLY_WITHDRAWN = "previously_withdrawn"  # an import never overrides a withdrawal or an expiry
    MINOR = "minor"  # younger than the age of digital consent: an import cannot stand in for a parent
    PENDING_PARENTAL = "pending_parental"
    NO_CHANNEL = "no_channel_for_address"  # none of the import's purposes has a channel the row's address reaches
    ADDRESS_CONFLICT = "address_conflict"  # the row's email and phone belong to two different contacts
    DUPLICATE = "duplicate"  # the address already carries this import's declaration (an earlier row)


class FileProblem(StrEnum):
    """Why an import failed as a whole."""

    UPLOAD_MISSING = "upload_missing"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    SIZE_MISMATCH = "size_mismatch"
    NOT_TEXT = "not_text"
    HEADER_MISSING = "header_missing"
    NO_ADDRESS_COLUMN = "no_address_column"


@dataclass(frozen=True)
class Record:
    """One CSV record: its first line's number, the cursor just after it, and its text or what is wrong with it."""

    line: int
    end_offset: int
    next_line: int
    text: str | None
    problem: IssueCode | None = None


def physical_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The stream split after each `\\n`, line endings kept, so byte offsets add up exactly."""
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            yield data[start : end + 1]
            start = end + 1
        pending = data[start:]
    if pending:
        yield pending


def records(lines: Iterable[bytes], offset: int, next_line: int) -> Iterator[Record]:
    """Records from physical lines that start at byte `offset`, whose first line is number `next_line`.

    A record whose quotes do not balance within MAX_RECORD_LINES lines or MAX_RECORD_BYTES is reported on its first
    line alone, and reading resumes on the next line, so one stray quote costs one row, not the rest of the file.
    """
    source = iter(lines)
    replay: deque[bytes] = deque()
    buffer: list[bytes] = []
    quotes = size = 0
    while True:
        raw = replay.popleft() if replay else next(source, None)
        if raw is not None:
            buffer.append(raw)
            quotes += raw.count(b'"')
            size += len(raw)
            if quotes % 2 == 0:
                yield _decode(b"".join(buffer), next_line, offset + size, next_line + len(buffer), offset == 0)
                offset, next_line = offset + size, next_line + len(buffer)
                buffer, quotes, size = [], 0, 0
                continue
            if len(buffer) <= MAX_RECORD_LINES and size <= MAX_RECORD_BYTES:
                continue
        if not buffer:
            return
        first = buffer[0]
        yield Record(next_line, offset + len(first), next_line + 1, None, IssueCode.UNBALANCED_QUOTES)
        offset, next_line = offset + len(first), next_line + 1
        replay.extendleft(reversed(buffer[1:]))
        buffer, quotes, size = [], 0, 0


def _decode(raw: bytes, line: int, end_offset: int, next_line: int, at_start: bool) -> Record:
    if at_start and raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Record(line, end_offset, next_line, None, IssueCode.INVALID_ENCODING)
    return Record(line, end_offset, next_line, text.rstrip("\r\n"))


def split_fields(text: str, delimiter: str) -> list[str] | None:
    """The fields of one record, or None if the csv module cannot read it."""
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def detect_delimiter(header: str) -> str:
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass(frozen=True)
class Header:
    delimiter: str
    columns: dict[str, int]  # known column -> field position
    ignored: list[str]
    width: int


def parse_header(text: str, custom_fields: Collection[str] = ()) -> Header | FileProblem:
    """The header's columns: the built-in ones and the tenant's declared custom fields."""
    delimiter = detect_delimiter(text)
    fields = split_fields(text, delimiter)
    if not fields:
        return FileProblem.HEADER_MISSING
    names = [f.strip().lower().replace(" ", "_").replace("-", "_") for f in fields]
    known = {*COLUMNS, *custom_fields}
    columns = {name: position for position, name in reversed(list(enumerate(names))) if name in known}
    if not ADDRESS_COLUMNS & columns.keys():
        return FileProblem.NO_ADDRESS_COLUMN
    ignored = [fields[i].strip() for i, name in enumerate(names) if name not in known and name]
    return Header(delimiter=delimiter, columns=columns, ignored=ignored, width=len(fields))


@dataclass(frozen=True)
class ImportRow:
    """A valid row, normalised. Personal data: never logged, never stored outside the contact's sealed profile."""

    line: int
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    locale: str | None
    custom_fields: dict[str, CustomValue] = field(default_factory=dict)


@dataclass(frozen=True)
class RowIssue:
    """An invalid row's code with a detail, e.g. which custom fields are bad."""

    code: IssueCode
    detail: str


def validate_row(
    line: int,
    fields: list[str],
    header: Header,
    country: str,
    custom_types: Mapping[str, CustomFieldType] | None = None,
) -> ImportRow | IssueCode | RowIssue:
    if len(fields) > header.width and any(f.strip() for f in fields[header.width :]):
        return IssueCode.TOO_MANY_FIELDS

    def value(column: str) -> str | None:
        position = header.columns.get(column)
        if position is None or position >= len(fields):
            return None
        return fields[position].strip() or None

    email, phone = value("email"), value("phone")
    if email is None and phone is None:
        return IssueCode.ADDRESS_REQUIRED
    try:
        email = normalise_email(email) if email else None
    except InvalidInput:
        return IssueCode.INVALID_EMAIL
    try:
        phone = normalise_phone(phone, country) if phone else None
    except InvalidInput:
        return IssueCode.INVALID_PHONE
    first_name, last_name = value("first_name"), value("last_name")
    if any(name is not None and len(name) > MAX_NAME_LENGTH for name in (first_name, last_name)):
        return IssueCode.FIELD_TOO_LONG
    raw_birth_date = value("birth_date")
    try:
        birth_date = date.fromisoformat(raw_birth_date) if raw_birth_date else None
    except ValueError:
        return IssueCode.INVALID_BIRTH_DATE
    locale = (value("locale") or "").lower() or None
    if locale is not None and locale not in SUPPORTED_LOCALES:
        return IssueCode.INVALID_LOCALE
    # In the file's column order; a custom column whose declaration was removed after the header was read is ignored.
    declared = custom_types or {}
    in_file_order = sorted(header.columns, key=header.columns.__getitem__)
    try:
        custom = validate_custom_values(declared, {n: value(n) for n in in_file_order if n in declared}, country)
    except InvalidCustomField as exc:
        bad = ", ".join(f"{d['field']}: {d['code']}" for d in exc.details or [])
        return RowIssue(IssueCode.INVALID_CUSTOM_FIELD, bad)
    return ImportRow(line, email, phone, first_name, last_name, birth_date, locale, custom)
