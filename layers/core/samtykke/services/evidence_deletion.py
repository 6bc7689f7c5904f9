"""Deleting governance-locked objects on request: evidence_check, the one role with the governance bypass.

Erasure, expiry (an erased or shredded contact's evidence files and exports) and imports (a finished import's CSV)
queue a request naming the item, never an object key (`adapters/evidence_queue.py`). The request is honoured only if
the table says so: the contact's profile is an erased tombstone, or the import is completed or failed. A role that
may queue requests therefore cannot delete evidence that is still held. Deleting again finds nothing: idempotent.
"""

from __future__ import annotations

from typing import Any

from samtykke.adapters.evidence_queue import CONTACT_FILES, IMPORT_FILE
from samtykke.adapters.repository import PROFILE, contact_pk
from samtykke.adapters.rights_repository import import_pk
from samtykke.domain.errors import Conflict, InvalidInput, RetryableError
from samtykke.domain.imports import ImportStatus
from samtykke.domain.uploads import ID, TENANT, contact_evidence_prefix, export_prefix, import_file_key
from samtykke.observability import logger
from samtykke.services.context import Services
from samtykke.services.evidence import evidence_store, rights_repo
from samtykke.services.imports import META as IMPORT_SK

FINISHED_IMPORTS = frozenset({ImportStatus.COMPLETED.value, ImportStatus.FAILED.value})
MAX_REASON = 40


class DeletionRefused(Conflict):
    code = "deletion_refused"


class ImportNotFinished(RetryableError):
    """A deletion request for an import whose end is not recorded (the import queues it only after): refused for now."""

    code = "import_not_finished"


def delete_requested(svc: Services, request: dict[str, Any]) -> int:
    """Honours one deletion request if the table allows it; how many object versions it deleted."""
    kind, tenant_id = request.get("kind"), str(request.get("tenant_id", ""))
    reason = str(request.get("reason", ""))[:MAX_REASON] or "requested"
    if not TENANT.match(tenant_id):
        raise InvalidInput("A deletion request names no valid tenant", code="invalid_deletion_request")
    store = evidence_store(svc)
    if kind == CONTACT_FILES:
        contact_id = str(request.get("contact_id", ""))
        profile = (
            svc.repo.get(contact_pk(tenant_id, contact_id), PROFILE, consistent=True) if ID.match(contact_id) else None
        )
        if profile is None or not profile.get("erased"):
            logger.warning("Deletion refused: the contact is not erased", extra={"contact_id": contact_id})
            raise DeletionRefused("Only an erased contact's files are deleted")
        deleted = store.destroy_prefix(contact_evidence_prefix(tenant_id, contact_id), reason=reason)
        return deleted + store.destroy_prefix(export_prefix(tenant_id, contact_id), reason=reason)
    if kind == IMPORT_FILE:
        import_id = str(request.get("import_id", ""))
        item = rights_repo(svc).get(import_pk(tenant_id, import_id), IMPORT_SK) if ID.match(import_id) else None
        if item is None:
            raise DeletionRefused("No such import")
        if item.get("status") not in FINISHED_IMPORTS:
            raise ImportNotFinished("The import has not finished yet; retry")
        return store.destroy(import_file_key(tenant_id, import_id), reason=reason)
    raise InvalidInput("Unknown deletion request", code="invalid_deletion_request")
