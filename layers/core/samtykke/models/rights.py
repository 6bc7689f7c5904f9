"""Data-subject rights and evidence: upload slots, evidence files, lawful imports, exports and erasure."""

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from samtykke.domain.consent import LegalBasis
from samtykke.domain.imports import MAX_FILE_BYTES, FileProblem, ImportStatus, IssueCode, IssueKind
from samtykke.domain.uploads import FileStatus, Rejection
from samtykke.models.common import Model

SHA256_PATTERN = r"^[0-9a-f]{64}$"
EXAMPLE_SHA256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"


class UploadInstructions(Model):
    """Send the file with exactly this method, URL and these headers (S3 checks the signed ones)."""

    method: str = "PUT"
    url: str
    headers: dict[str, str]
    expires_at: datetime


class EvidenceFile(Model):
    """A screenshot or PDF attached to a consent event or an import declaration. The event itself never changes."""

    file_id: str  # `{event or declaration id}/{n}`
    key: str
    content_type: str
    size_bytes: int
    sha256: str
    status: FileStatus
    rejection: Rejection | None = None
    created_at: datetime
    checked_at: datetime | None = None
    retain_until: datetime | None = None
    download_url: str | None = None  # in exports only, for verified files: a presigned GET, valid 15 minutes


class UploadSlot(Model):
    file: EvidenceFile
    upload: UploadInstructions
    max_bytes: int


class DeclaredFile(Model):
    size_bytes: int = Field(ge=1, le=MAX_FILE_BYTES)
    sha256: str = Field(pattern=SHA256_PATTERN, description="SHA-256 of the CSV file, lowercase hex")


class ImportDeclaration(Model):
    """How the addresses were lawfully obtained. Every imported address's log carries it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    source: str = Field(min_length=1, max_length=64, description="A source id from the tenant's catalogue")
    legal_basis: LegalBasis | None = Field(
        default=None,
        description="The basis the file's addresses were obtained under; omit it to record each purpose's default "
        "basis (a marketing purpose's is always `consent`)",
    )
    description: str = Field(min_length=10, max_length=4000)


class ImportCreate(Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "declaration": {
                    "source": "import",
                    "legal_basis": "consent",
                    "description": "Newsletter sign-ups collected on paper at the Copenhagen trade fair, March 2026.",
                },
                "purposes": ["e-marketing"],
                "file": {"size_bytes": 3, "sha256": EXAMPLE_SHA256},
                "locale": "da",
            }
        },
    )
    declaration: ImportDeclaration | None = Field(
        default=None, description="Required: an import without a declaration is refused (`declaration_required`)"
    )
    purposes: list[str] = Field(min_length=1, max_length=10)
    file: DeclaredFile
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}$", description="The consent texts' locale")
    text_versions: dict[str, int] = Field(
        default_factory=dict, description="Per purpose, the version of its consent text the people were shown"
    )


class ImportCounts(Model):
    rows: int = 0  # data rows read (blank lines are not rows)
    imported: int = 0  # rows whose address got the declaration in its log
    invalid: int = 0
    suppressed: int = 0
    skipped: int = 0  # withdrawn, minors, parental consent pending, address conflicts
    duplicates: int = 0


class ImportIssue(Model):
    line: int
    kind: IssueKind
    code: IssueCode
    detail: str | None = None  # e.g. the suppression reasons or the channels skipped; never an address


class ImportView(Model):
    import_id: str
    declaration_id: str
    status: ImportStatus
    declaration: ImportDeclaration
    purposes: list[str]
    file: DeclaredFile
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    problem: FileProblem | None = None
    lines_read: int = 0
    bytes_read: int = 0
    counts: ImportCounts
    ignored_columns: list[str] = Field(default_factory=list)
    evidence_files: list[EvidenceFile] = Field(default_factory=list)
    upload: UploadInstructions | None = None  # only in the response that creates the import


class ImportIssues(Model):
    issues: list[ImportIssue]
    next_cursor: str | None = None


class ImportList(Model):
    imports: list[ImportView]
    next_cursor: str | None = None


class ExportLink(Model):
    """A big export is written to the evidence bucket and handed out as a link (valid 15 minutes)."""

    export_id: str
    format: str
    download_url: str
    expires_at: datetime
    size_bytes: int
    sha256: str


class ErasureResult(Model):
    contact_id: str
    erased: bool = True
    erased_at: datetime
    already_erased: bool = False
    withdrawn_states: int = 0
    evidence_objects_deleted: int = 0
    suppressed_addresses: int = 0


def json_safe(value: Any) -> Any:
    """bytes are never part of an export: their presence is a bug, so they are dropped rather than encoded."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items() if not isinstance(v, bytes | bytearray)}
    if isinstance(value, list):
        return [json_safe(v) for v in value if not isinstance(v, bytes | bytearray)]
    return value
