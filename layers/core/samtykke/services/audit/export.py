"""The audit log as JSONL files in the Object-Locked evidence bucket, for a SIEM and for a third party's check.

One line per entry: the entry's canonical JSON record exactly as it was hashed (`domain/audit/chain.py`), oldest
first. `verify_month` (or `first_broken_entry` on a month's lines, concatenated in day order) checks it with
SHA-256 alone. Files are written in COMPLIANCE mode: nobody, not even the account's root user, can delete or
overwrite a version before its retention ends.

- `audit/{tenant}/{yyyy-mm}/{yyyy-mm-dd}.jsonl`: one day, written by the daily schedule (functions/audit_export)
  for the day before; a re-run writes an identical new version.
- `audit/{tenant}/{yyyy-mm}/month-{time}.jsonl`: a month so far, on demand (`POST /v1/admin/audit/exports`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from samtykke.adapters.audit_log import AuditLogRepository
from samtykke.domain.audit.chain import GENESIS_HASH
from samtykke.domain.uploads import AUDIT_PREFIX
from samtykke.services.context import Services
from samtykke.services.evidence import evidence_store

RETAIN_DAYS = 6 * 365  # COMPLIANCE-mode retention of every audit file
CONTENT_TYPE = "application/x-ndjson"


@dataclass(frozen=True)
class AuditFile:
    tenant_id: str
    key: str
    entries: int
    first_seq: int | None
    last_hash: str
    version_id: str | None


def _write(svc: Services, tenant_id: str, key: str, lines: list[tuple[int, str, str]]) -> AuditFile:
    lines.sort()
    body = "".join(record + "\n" for _, record, _ in lines).encode()
    version = evidence_store(svc).put(key, body, content_type=CONTENT_TYPE, retain_days=RETAIN_DAYS, mode="COMPLIANCE")
    return AuditFile(
        tenant_id=tenant_id,
        key=key,
        entries=len(lines),
        first_seq=lines[0][0] if lines else None,
        last_hash=lines[-1][2] if lines else GENESIS_HASH,
        version_id=version,
    )


def export_month(svc: Services, tenant_id: str, month: str) -> AuditFile:
    items = AuditLogRepository(svc.repo.table_name).month(tenant_id, month)
    lines = [(int(i["seq"]), str(i["record"]), str(i["hash"])) for i in items]
    stamp = svc.clock().strftime("%Y%m%dT%H%M%SZ")
    return _write(svc, tenant_id, f"{AUDIT_PREFIX}{tenant_id}/{month}/month-{stamp}.jsonl", lines)


def export_day(svc: Services, tenant_id: str, day: date) -> AuditFile:
    month, prefix = day.strftime("%Y-%m"), day.isoformat()
    items = AuditLogRepository(svc.repo.table_name).month(tenant_id, month)
    lines = [(int(i["seq"]), str(i["record"]), str(i["hash"])) for i in items if str(i["sk"]).startswith(prefix)]
    return _write(svc, tenant_id, f"{AUDIT_PREFIX}{tenant_id}/{month}/{prefix}.jsonl", lines)


def export_yesterday(svc: Services) -> list[AuditFile]:
    """The daily schedule: every tenant that has entries in yesterday's month gets yesterday's file."""
    day = (svc.clock() - timedelta(days=1)).date()
    repo = AuditLogRepository(svc.repo.table_name)
    return [export_day(svc, tenant_id, day) for tenant_id in repo.tenants_with_entries(day.strftime("%Y-%m"))]
