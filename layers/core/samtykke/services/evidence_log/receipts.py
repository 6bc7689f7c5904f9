"""Consent receipts for a contact: built from the stored events, the tenant's catalogue and the anchors.

The data subject downloads them through a signed link (`GET /v1/public/receipts/{token}`), from the preference
centre or the confirmation email; the DSAR export carries them too.
"""

from __future__ import annotations

from typing import Any

from samtykke.domain import tokens
from samtykke.domain.consent import LegalBasis
from samtykke.domain.evidence.receipt import RECEIPT_EVENT_TYPES, build_receipt, proof_for
from samtykke.services.catalog import TenantCatalog, strip_keys
from samtykke.services.context import Services
from samtykke.services.evidence_log.checkpoints import anchors_of
from samtykke.services.evidence_log.receipt_links import RECEIPT_USE
from samtykke.services.ledger import ContactNotFound


def receipts_for(catalog: TenantCatalog, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A receipt for each grant, confirmation, withdrawal and import in a contact's partition, oldest first."""
    tenant = catalog.tenant
    controller = {
        "id": tenant.tenant_id,
        "name": tenant.name,
        "country": tenant.country,
        "privacy_policy_url": tenant.privacy_policy_url,
        "privacy_policy_version": tenant.privacy_policy_version,
    }
    records = [strip_keys(i) for i in items if i["sk"].startswith("EVENT#")]
    anchors = anchors_of(items)
    receipts = []
    for record in records:
        if record["type"] not in RECEIPT_EVENT_TYPES:
            continue
        text_ref = record.get("text") or {}
        text = catalog.text(record["purpose"], text_ref["locale"], int(text_ref["version"])) if text_ref else None
        purpose = catalog.purposes.get(record["purpose"])
        locale = text_ref.get("locale") or tenant.default_locale
        receipts.append(
            build_receipt(
                record,
                controller=controller,
                purpose_name=(purpose.names.get(locale) if purpose else None) or record["purpose"],
                legal_basis_label=catalog.basis_labels.get(LegalBasis(record["legal_basis"]), record["legal_basis"]),
                notice_text=text.text if text else None,
                proof=proof_for(int(record["seq"]), anchors, records),
            )
        )
    return receipts


def receipts_by_link(svc: Services, token: str) -> dict[str, Any]:
    """The receipts a signed receipt link names; 404 once the contact is erased."""
    tenant_id = str(tokens.peek(token).get("t", ""))
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    claims = tokens.verify(keys.signing_key(RECEIPT_USE), RECEIPT_USE, token, now=int(svc.clock().timestamp()))
    contact_id = str(claims["c"])
    items = svc.repo.load_contact(tenant_id, contact_id)
    profile = next((i for i in items if i["sk"] == "PROFILE"), None)
    if profile is None or profile.get("erased"):
        raise ContactNotFound("No such contact")
    return {"contact_id": contact_id, "receipts": receipts_for(catalog, items)}
