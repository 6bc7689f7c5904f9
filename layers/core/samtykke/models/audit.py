"""Audit-log exports."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from samtykke.models.common import Model


class AuditExportRequest(Model):
    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra={"example": {"month": "2026-12"}})
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="yyyy-mm")


class AuditExport(Model):
    key: str = Field(description="The JSONL file in the Object-Locked bucket (COMPLIANCE mode)")
    entries: int
    first_seq: int | None = None
    last_hash: str = Field(description="The hash of the file's last entry: the month's chain head when written")
    download_url: str = Field(description="A presigned GET, valid for 15 minutes")
