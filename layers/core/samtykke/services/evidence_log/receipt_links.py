"""Signed links to a contact's consent receipts (`GET /v1/public/receipts/{token}`), kept apart from the receipts
themselves so that the capture path, which only mails the link, does not import what builds them."""

from __future__ import annotations

from samtykke.adapters.crypto import TenantKeys
from samtykke.domain import tokens
from samtykke.services.context import Services

RECEIPT_USE = "receipt"
RECEIPT_LINK_DAYS = 400  # a receipt link in an email outlives the pending consent it was sent for


def receipt_link(svc: Services, keys: TenantKeys, contact_id: str, base_url: str) -> str:
    claims = {
        "t": keys.tenant_id,
        "c": contact_id,
        "exp": int(svc.clock().timestamp()) + RECEIPT_LINK_DAYS * 24 * 3600,
    }
    return f"{base_url}/v1/public/receipts/{tokens.sign(keys.signing_key(RECEIPT_USE), RECEIPT_USE, claims)}"
