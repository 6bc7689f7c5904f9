"""The consent form report ("Samtyckesblankett"): one printable page of a person's current consents.

Per purpose and channel: the status, the legal basis under the tenant's own label, the source, the date, and the
exact consent text the person was shown (its version, locale and SHA-256, and the text itself from the catalogue).
Below them, the tenant's privacy-policy link and its sub-processors and data-sharing partners with their agreement
dates. Print CSS lays it out on A4.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from samtykke.domain.access import Principal
from samtykke.domain.consent import LegalBasis
from samtykke.domain.defaults import SUPPORTED_LOCALES, resolve_locale
from samtykke.services import audit
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.export import load_contact
from samtykke.services.ledger import open_profile
from samtykke.templates import messages, render_page


def _when(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


def _consent_row(catalog: TenantCatalog, state: dict[str, Any], locale: str, m: dict[str, str]) -> dict[str, Any]:
    purpose = catalog.purposes.get(state["purpose"])
    names = purpose.names if purpose is not None else {}
    text_ref = state.get("text") or {}
    text = (
        catalog.text(state["purpose"], text_ref["locale"], int(text_ref["version"]))
        if text_ref.get("locale") and text_ref.get("version")
        else None
    )
    source = catalog.sources.get(state["source"])
    return {
        "purpose_id": state["purpose"],
        "purpose_name": names.get(locale) or names.get(catalog.tenant.default_locale) or state["purpose"],
        "channel": state["channel"],
        "channel_label": m.get(f"rights_channel_{state['channel']}", state["channel"]),
        "status": state["status"],
        "status_label": m.get(f"rights_status_{state['status']}", state["status"]),
        "legal_basis_label": catalog.basis_labels.get(LegalBasis(state["legal_basis"]), state["legal_basis"]),
        "source_label": source.label if source is not None else state["source"],
        "date": _when(state.get("updated_at")),
        "text": text.text if text is not None else None,
        "text_version": text_ref.get("version"),
        "text_locale": text_ref.get("locale"),
        "text_sha256": text_ref.get("sha256"),
        "declaration_id": state.get("declaration_id"),
    }


def consent_form(svc: Services, principal: Principal, contact_id: str, *, locale: str | None, ip: str | None) -> str:
    tenant_id = principal.tenant_id
    profile_item, items = load_contact(svc, tenant_id, contact_id)
    catalog = svc.catalogs.get(tenant_id)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    profile = open_profile(keys.contact_box(contact_id, profile_item["wrapped_key"]), profile_item.get("profile"))
    lang = resolve_locale(locale or profile.locale, SUPPORTED_LOCALES, catalog.tenant.default_locale)
    m = messages(lang)
    states = sorted((i for i in items if i["sk"].startswith("STATE#")), key=lambda s: (s["purpose"], s["channel"]))
    audit.record(
        svc, principal, audit.AuditAction.CONTACT_EXPORTED, ("contact", contact_id), ip, {"format": "consent_form"}
    )
    name = " ".join(part for part in (profile.first_name, profile.last_name) if part)
    return render_page(
        "consent_form.html",
        lang,
        tenant=catalog.tenant,
        generated_on=svc.clock().strftime("%Y-%m-%d"),
        person={"name": name, "email": profile.email, "phone": profile.phone, "contact_id": contact_id},
        consents=[_consent_row(catalog, state, lang, m) for state in states],
    )
