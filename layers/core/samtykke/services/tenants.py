"""Creating a tenant with its root key and the standard catalogue."""

from __future__ import annotations

import hashlib
from typing import Any

from samtykke.adapters.repository import META, tenant_pk, text_sk
from samtykke.domain.defaults import PUBLIC_SOURCES, STANDARD_PURPOSES, STANDARD_SOURCES
from samtykke.domain.errors import InvalidInput
from samtykke.models.strict import HEADER_UNSAFE, is_header_safe
from samtykke.models.tenant import Plan, Tenant
from samtykke.services.context import Services


def text_item(tenant_id: str, purpose_id: str, locale: str, version: int, text: str, created_at: str) -> dict[str, Any]:
    return {
        "pk": tenant_pk(tenant_id),
        "sk": text_sk(purpose_id, locale, version),
        "purpose_id": purpose_id,
        "locale": locale,
        "version": version,
        "text": text,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "created_at": created_at,
    }


def create_tenant(
    svc: Services,
    tenant_id: str,
    name: str,
    *,
    plan: Plan = Plan.BASIC,
    country: str = "DK",
    default_locale: str = "da",
    allowed_origins: list[str] | None = None,
    allowed_redirects: list[str] | None = None,
    privacy_policy_url: str | None = None,
) -> Tenant:
    if not is_header_safe(name):
        raise InvalidInput("The tenant name is every mail's sender name: no line breaks", code=HEADER_UNSAFE)
    now = svc.clock().isoformat()
    tenant = Tenant(
        tenant_id=tenant_id,
        name=name,
        plan=plan,
        country=country,
        default_locale=default_locale,
        allowed_origins=allowed_origins or [],
        allowed_redirects=allowed_redirects or [],
        privacy_policy_url=privacy_policy_url,
        created_at=svc.clock(),
    )
    pk = tenant_pk(tenant_id)
    items: list[dict[str, Any]] = [
        {"pk": pk, "sk": META, **tenant.model_dump(mode="json"), "root_key_blob": svc.keyring.new_root_key(tenant_id)}
    ]
    for purpose in STANDARD_PURPOSES:
        items.append(
            {
                "pk": pk,
                "sk": f"PURPOSE#{purpose.purpose_id}",
                "purpose_id": purpose.purpose_id,
                "names": purpose.names,
                "channels": [c.value for c in purpose.channels],
                "active": True,
                "default_legal_basis": purpose.default_legal_basis.value,
                "double_opt_in": purpose.double_opt_in,
                "marketing": purpose.marketing,
                "created_at": now,
                "updated_at": now,
            }
        )
        items += [text_item(tenant_id, purpose.purpose_id, loc, 1, text, now) for loc, text in purpose.texts.items()]
    items += [
        {
            "pk": pk,
            "sk": f"SOURCE#{source_id}",
            "source_id": source_id,
            "label": label,
            "active": True,
            "public": source_id in PUBLIC_SOURCES,
        }
        for source_id, label in STANDARD_SOURCES.items()
    ]
    svc.repo.create_tenant(items)
    return tenant
