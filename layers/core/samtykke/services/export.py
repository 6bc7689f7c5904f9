"""The Art. 15 / Art. 20 export: everything stored about one person, as JSON and as a readable HTML page.

The document (`export_version` 1) holds the decrypted profile, the current consents, every event of the consent log
with its decrypted evidence and its evidence files (with presigned download links), the chain check, the
suppressions on the person's addresses, and the sends recorded for the person; the profile's change history, the
signed checkpoints that anchor the log (with inclusion proofs), the consent receipts, and the verification of the
log against its head and those checkpoints (docs/evidence.md). It is shaped to the caller like
every admin response (`api/shaping.py`): masked addresses without `addresses:read`, evidence withheld without
`evidence:read`, the tenant's sensitive fields redacted without `sensitive:read`.

The contact's partition is read page by page. A document larger than INLINE_LIMIT_BYTES is not returned inline,
where it could hit Lambda's 6 MB response limit: it is written to the evidence bucket under `exports/`, kept one
day, and handed out as a presigned link valid 15 minutes. Every export is recorded in the audit log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from samtykke.adapters.repository import address_pk
from samtykke.adapters.rights_repository import EVIDENCE, SEND
from samtykke.api.shaping import shaping_for
from samtykke.domain.access import Permission, Principal
from samtykke.domain.consent import AddressKind, LegalBasis
from samtykke.domain.evidence.verify import verify_log
from samtykke.domain.ledger import first_broken_link
from samtykke.domain.masking import has_sensitive_values, sensitive_keys, shape
from samtykke.domain.uploads import DOWNLOAD_URL_SECONDS, export_prefix
from samtykke.models.rights import ExportLink, json_safe
from samtykke.services import audit
from samtykke.services.catalog import TenantCatalog, strip_keys
from samtykke.services.context import Services
from samtykke.services.evidence import download_url, evidence_store, file_view
from samtykke.services.evidence_log.checkpoints import CheckpointRaced, anchors_of, public_key_pem, write_checkpoint
from samtykke.services.evidence_log.profile_changes import history, pending
from samtykke.services.evidence_log.receipts import receipts_for
from samtykke.services.ledger import ContactNotFound, LoadedContact, new_id, open_evidence, open_profile
from samtykke.templates import render_page

EXPORT_VERSION = 1
INLINE_LIMIT_BYTES = 5 * 1024 * 1024
EXPORT_RETAIN_DAYS = 1
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class ExportBody:
    body: str
    content_type: str


def _purpose_name(catalog: TenantCatalog, purpose_id: str, locale: str) -> str:
    purpose = catalog.purposes.get(purpose_id)
    if purpose is None:
        return purpose_id
    return purpose.names.get(locale) or purpose.names.get(catalog.tenant.default_locale) or purpose_id


def load_contact(svc: Services, tenant_id: str, contact_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The contact's profile item and its whole partition (read page by page); 404 if erased or unknown."""
    items = svc.repo.load_contact(tenant_id, contact_id) if contact_id.startswith("con_") else []
    profile = next((i for i in items if i["sk"] == "PROFILE"), None)
    if profile is None or profile.get("erased"):
        raise ContactNotFound("No such contact")
    return profile, items


def build_document(svc: Services, principal: Principal, contact_id: str) -> dict[str, Any]:
    """The whole export, decrypted and unshaped. Callers shape it before it leaves."""
    tenant_id = principal.tenant_id
    profile_item, items = load_contact(svc, tenant_id, contact_id)
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    box = keys.contact_box(contact_id, profile_item["wrapped_key"])
    profile = open_profile(box, profile_item.get("profile"))
    loaded = LoadedContact(contact_id, 0, "", box, profile, {}, item=profile_item)
    locale = profile.locale or catalog.tenant.default_locale
    may_see_files = principal.may(Permission.EVIDENCE_READ)

    files: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if item["sk"].startswith(EVIDENCE):
            view = file_view(item, download_url=download_url(svc, item) if may_see_files else None)
            files.setdefault(item["ref_id"], []).append(view.model_dump(mode="json", exclude_none=True))

    records = [strip_keys(i) for i in items if i["sk"].startswith("EVENT#")]
    events = []
    for record in records:
        evidence = open_evidence(box, record["event_id"], record.get("evidence"))
        events.append(
            {
                **record,
                "evidence": evidence.model_dump(mode="json", exclude_none=True) if evidence else None,
                # As stored and hashed: a verifier puts it back in place of `evidence` (docs/evidence.md).
                "evidence_sealed": record.get("evidence"),
                "evidence_files": files.get(record["event_id"], []),
            }
        )

    consents = []
    for item in items:
        if not item["sk"].startswith("STATE#"):
            continue
        state = {k: v for k, v in strip_keys(item).items() if not k.startswith("gsi")}
        state["purpose_name"] = _purpose_name(catalog, state["purpose"], locale)
        state["legal_basis_label"] = catalog.basis_labels.get(LegalBasis(state["legal_basis"]), state["legal_basis"])
        consents.append(state)

    suppressions = []
    lookup_keys = {}
    for kind in AddressKind:
        blind = profile_item.get(f"{kind.value}_bidx")
        if not blind:
            continue
        lookup_keys[kind.value] = blind
        address = svc.repo.get(address_pk(tenant_id, kind.value, blind), "ADDR", consistent=True) or {}
        for key, record in sorted((address.get("suppressions") or {}).items()):
            channel, _, purpose = key.partition("#")
            suppressions.append({"address_kind": kind.value, "channel": channel, "purpose": purpose, **record})

    tenant = catalog.tenant
    anchors = anchors_of(items)
    verdict = verify_log(
        tenant_id,
        contact_id,
        records,
        {"seq": profile_item.get("seq"), "last_hash": profile_item.get("last_hash")},
        anchors,
        public_key_pem(svc),
    )
    return json_safe(
        {
            "export_version": EXPORT_VERSION,
            "generated_at": svc.clock().isoformat(),
            "tenant": {
                "tenant_id": tenant.tenant_id,
                "name": tenant.name,
                "privacy_policy_url": tenant.privacy_policy_url,
                "sub_processors": [sp.model_dump(mode="json") for sp in tenant.sub_processors],
            },
            "contact": {
                "contact_id": contact_id,
                "created_at": profile_item.get("created_at"),
                "updated_at": profile_item.get("updated_at"),
                "profile": profile.model_dump(mode="json", exclude_none=True),
                "lookup_keys": lookup_keys,
                "log_head": {"seq": profile_item.get("seq"), "last_hash": profile_item.get("last_hash")},
                "profile_history": history(loaded),
                "pending_profile_change": pending(loaded) or None,
            },
            "consents": consents,
            "chain_intact": first_broken_link(records) is None,
            "verification": verdict.as_dict(),
            "events": events,
            "anchors": anchors,
            "receipts": receipts_for(catalog, items),
            "suppressions": suppressions,
            "sends": [strip_keys(i) for i in items if i["sk"].startswith(SEND)],
            "evidence_files": [f for group in files.values() for f in group],
        }
    )


def export_contact(
    svc: Services, principal: Principal, contact_id: str, *, fmt: str, ip: str | None
) -> ExportBody | ExportLink:
    """The export as a response body, or, when it is too big to return, a link to it in the evidence bucket."""
    tenant = svc.catalogs.get(principal.tenant_id).tenant
    load_contact(svc, principal.tenant_id, contact_id)  # 404 before anything is signed
    # A fresh checkpoint covers this contact's head, so the export carries an anchor as of now.
    # If another checkpoint advanced the pointer first, this one's anchors are written all the same.
    with contextlib.suppress(CheckpointRaced):
        write_checkpoint(svc, include=((principal.tenant_id, contact_id),), scan_changes=False)
    document = shape(build_document(svc, principal, contact_id), shaping_for(principal))
    sensitive = has_sensitive_values(document, sensitive_keys(tenant.redacted_fields()))
    if fmt == "html":
        locale = document["contact"]["profile"].get("locale") or tenant.default_locale
        body, content_type = render_page("export.html", locale, doc=document), HTML_TYPE
    else:
        body, content_type = json.dumps(document, ensure_ascii=False, separators=(",", ":")), JSON_TYPE
    encoded = body.encode()
    inline = len(encoded) <= INLINE_LIMIT_BYTES
    audit.record(
        svc,
        principal,
        audit.AuditAction.CONTACT_EXPORTED,
        ("contact", contact_id),
        ip,
        {"format": fmt, "delivery": "inline" if inline else "link", "bytes": len(encoded), "sensitive": sensitive},
    )
    if sensitive and (fmt != "json" or not inline):  # an inline JSON body is audited by api/shaping.py
        audit.record(svc, principal, audit.AuditAction.SENSITIVE_READ, ("contact", contact_id), ip)
    if inline:
        return ExportBody(body, content_type)
    export_id = new_id("exp")
    key = f"{export_prefix(principal.tenant_id, contact_id)}{export_id}.{fmt}"
    store = evidence_store(svc)
    version_id = store.put(key, encoded, content_type=content_type, retain_days=EXPORT_RETAIN_DAYS)
    return ExportLink(
        export_id=export_id,
        format=fmt,
        download_url=store.presign_get(
            key, version_id=version_id, expires_in=DOWNLOAD_URL_SECONDS, filename=f"{contact_id}.{fmt}"
        ),
        expires_at=svc.clock() + timedelta(seconds=DOWNLOAD_URL_SECONDS),
        size_bytes=len(encoded),
        sha256=hashlib.sha256(encoded).hexdigest(),
    )
