"""Signed links for sent messages (unsubscribe, preference centre), their verification, and the RFC 8058 headers.

Making links, for a campaign send or anything else that mails a contact:

    signer = LinkSigner.for_tenant(svc, tenant_id, base_url)          # once per batch
    url = signer.unsubscribe(contact_id, purpose, Channel.EMAIL, campaign_id)
    headers = list_unsubscribe_headers(url)                          # the one place these headers are built

or the functions `unsubscribe_link` / `preference_link` with the tenant's keys and current link-key version
(`current_key_version(catalog.tenant)`).

Tokens are HMAC-SHA256 (`domain/tokens.py`) under a key derived from the tenant's KMS-protected root key
for the link's use and the link-key version (`TenantKeys.signing_key`). The version is in the claims, so a
rotation (`rotate_link_key`) lets links signed with the previous version verify for a grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from samtykke.adapters.crypto import ContactBox, TenantKeys
from samtykke.adapters.link_keys import LinkKeyRepository
from samtykke.domain import tokens
from samtykke.domain.consent import AddressKind, Channel
from samtykke.domain.errors import Conflict, SamtykkeError
from samtykke.domain.links import (
    HeadHint,
    LinkKeyRetired,
    LinkUse,
    PreferenceClaims,
    UnsubscribeClaims,
    check_message_ref,
    claimed_key_version,
    claimed_tenant,
    key_version_accepted,
    preference_claims,
    signing_label,
    unsubscribe_claims,
)
from samtykke.models.tenant import Tenant
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services

UNSUBSCRIBE_PATH = "/u/"
PREFERENCES_PATH = "/p/"
ONE_CLICK = "List-Unsubscribe=One-Click"
_FORBIDDEN_IN_HEADER = frozenset("<>,\r\n\t ")


def current_key_version(tenant: Tenant) -> int:
    """The link-key version that signs every new link of the tenant."""
    return tenant.link_key_version


def _check_tenant(keys: TenantKeys, tenant_id: str) -> None:
    if keys.tenant_id != tenant_id:
        raise ValueError("The keys belong to another tenant")


def unsubscribe_link(
    keys: TenantKeys,
    *,
    base_url: str,
    tenant_id: str,
    contact_id: str,
    purpose: str,
    channel: Channel,
    message_ref: str,
    key_version: int,
    head: HeadHint | None = None,
) -> str:
    """The `https://…/u/{token}` URL that unsubscribes the contact from `purpose` on `channel`.

    `message_ref` is the campaign or message id (1-64 of `[A-Za-z0-9_.:-]`); it is logged with the withdrawal.
    The link never expires; it stops verifying only after a link-key rotation's grace period. `head`, the
    contact's log head as the sender just read it, lets the unsubscribe write without reading it again.
    """
    _check_tenant(keys, tenant_id)
    claims = UnsubscribeClaims(
        tenant_id, contact_id, purpose, channel, check_message_ref(message_ref), key_version, head
    )
    token = tokens.sign(
        keys.signing_key(signing_label(LinkUse.UNSUBSCRIBE, key_version)), LinkUse.UNSUBSCRIBE, claims.to_claims()
    )
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}{token}"


def preference_link(
    keys: TenantKeys,
    *,
    base_url: str,
    tenant_id: str,
    contact_id: str,
    key_version: int,
    expires_at: int | None = None,
) -> str:
    """The `https://…/p/{token}` URL of the contact's preference centre; `expires_at` (epoch seconds) is optional."""
    _check_tenant(keys, tenant_id)
    claims = PreferenceClaims(tenant_id, contact_id, key_version, expires_at)
    token = tokens.sign(
        keys.signing_key(signing_label(LinkUse.PREFERENCES, key_version)), LinkUse.PREFERENCES, claims.to_claims()
    )
    return f"{base_url.rstrip('/')}{PREFERENCES_PATH}{token}"


def _header_uri(uri: str) -> str:
    if not uri or _FORBIDDEN_IN_HEADER.intersection(uri):
        raise ValueError("A List-Unsubscribe URI may not contain whitespace, '<', '>' or ','")
    return f"<{uri}>"


def list_unsubscribe_headers(unsubscribe_url: str, mailto: str | None = None) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers of a marketing email: one-click unsubscribe over HTTPS, plus `mailto:`.

    `mailto` is an address (`unsubscribe@example.com`) or a `mailto:` URI. This is the only place these
    headers are built.
    """
    if not unsubscribe_url.startswith(("https://", "http://")):
        raise ValueError("The unsubscribe URL must be an HTTP(S) URL")
    uris = [_header_uri(unsubscribe_url)]
    if mailto:
        uris.append(_header_uri(mailto if mailto.startswith("mailto:") else f"mailto:{mailto}"))
    return {"List-Unsubscribe": ", ".join(uris), "List-Unsubscribe-Post": ONE_CLICK}


def head_hint(box: ContactBox, profile_item: dict[str, Any], kind: AddressKind | None) -> HeadHint | None:
    """The head hint for a link to the contact's `kind` address, from its profile item as just read."""
    address_index = profile_item.get(f"{kind.value}_bidx") if kind else None
    if not address_index:
        return None
    return HeadHint(
        seq=int(profile_item["seq"]),
        last_hash=profile_item["last_hash"],
        address_index=address_index,
        public_key=box.public_key(),
        locale=profile_item.get("locale"),
    )


@dataclass(frozen=True)
class LinkSigner:
    """Makes one tenant's links with its current link-key version: build once, sign many."""

    keys: TenantKeys
    key_version: int
    base_url: str

    @classmethod
    def for_tenant(cls, svc: Services, tenant_id: str, base_url: str) -> LinkSigner:
        catalog = svc.catalogs.get(tenant_id)
        return cls.of(catalog, svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob), base_url)

    @classmethod
    def of(cls, catalog: TenantCatalog, keys: TenantKeys, base_url: str) -> LinkSigner:
        """From a catalog and keys the caller already holds (a verified link's, a campaign's): no reads."""
        return cls(keys, current_key_version(catalog.tenant), base_url)

    def unsubscribe(
        self, contact_id: str, purpose: str, channel: Channel, message_ref: str, head: HeadHint | None = None
    ) -> str:
        return unsubscribe_link(
            self.keys,
            base_url=self.base_url,
            tenant_id=self.keys.tenant_id,
            contact_id=contact_id,
            purpose=purpose,
            channel=channel,
            message_ref=message_ref,
            key_version=self.key_version,
            head=head,
        )

    def preferences(self, contact_id: str, expires_at: int | None = None) -> str:
        return preference_link(
            self.keys,
            base_url=self.base_url,
            tenant_id=self.keys.tenant_id,
            contact_id=contact_id,
            key_version=self.key_version,
            expires_at=expires_at,
        )


# --- verification ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedLink:
    """A link whose signature verified with a key version the tenant still accepts."""

    catalog: TenantCatalog
    keys: TenantKeys
    claims: dict[str, Any]


def _signed_claims(
    svc: Services, use: LinkUse, token: str, catalog: TenantCatalog
) -> tuple[TenantKeys, dict[str, Any], int]:
    """The tenant's keys, and the token's claims and link-key version, if its signature verifies."""
    version = claimed_key_version(tokens.peek(token))
    keys = svc.keyring.tenant_keys(catalog.tenant.tenant_id, catalog.root_key_blob)
    claims = tokens.verify(keys.signing_key(signing_label(use, version)), use, token, now=int(svc.clock().timestamp()))
    return keys, claims, version


def _check_accepted(catalog: TenantCatalog, version: int, now: datetime) -> None:
    tenant = catalog.tenant
    if not key_version_accepted(
        version, current=tenant.link_key_version, previous_valid_until=tenant.link_key_previous_valid_until, now=now
    ):
        raise LinkKeyRetired("The link was signed with a key that has been retired")


def _verify(svc: Services, use: LinkUse, token: str) -> VerifiedLink:
    tenant_id = claimed_tenant(tokens.peek(token))
    catalog = svc.catalogs.get(tenant_id)
    keys, claims, version = _signed_claims(svc, use, token, catalog)
    if version > catalog.tenant.link_key_version:
        # Signed after a rotation whose write has not bumped the counter yet. Only a token that verified gets
        # here, so forged tokens never cause a reload.
        svc.catalogs.forget(tenant_id)
        catalog = svc.catalogs.get(tenant_id)
    _check_accepted(catalog, version, svc.clock())
    return VerifiedLink(catalog, keys, claims)


def verify_unsubscribe_token(svc: Services, token: str) -> tuple[VerifiedLink, UnsubscribeClaims]:
    link = _verify(svc, LinkUse.UNSUBSCRIBE, token)
    return link, unsubscribe_claims(link.claims)


def verify_unsubscribe_token_held(svc: Services, token: str) -> tuple[VerifiedLink, UnsubscribeClaims, int] | None:
    """Verifies against the configuration this container holds, without reading the change counter.

    Also returns the counter that configuration was loaded at, for a write that asserts it in its own transaction.
    None when nothing is held, or when the held configuration refuses the link (it may be out of date): the caller
    then verifies the usual way, which decides with a current one.
    """
    try:
        held = svc.catalogs.held_at(claimed_tenant(tokens.peek(token)))
        if held is None:
            return None
        catalog, counter = held
        keys, claims, version = _signed_claims(svc, LinkUse.UNSUBSCRIBE, token, catalog)
        _check_accepted(catalog, version, svc.clock())
        return VerifiedLink(catalog, keys, claims), unsubscribe_claims(claims), counter
    except SamtykkeError:
        return None


def verify_preference_token(svc: Services, token: str) -> tuple[VerifiedLink, PreferenceClaims]:
    link = _verify(svc, LinkUse.PREFERENCES, token)
    return link, preference_claims(link.claims)


def peek_tenant(token: str) -> str | None:
    """The tenant an unverified token names (to offer a fresh-link form on an error page), or None."""
    try:
        return claimed_tenant(tokens.peek(token))
    except tokens.InvalidToken:
        return None


# --- rotation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkKeyState:
    version: int
    rotated_at: datetime | None
    previous_version: int | None
    previous_valid_until: datetime | None


class RotationConflict(Conflict):
    code = "rotation_conflict"


def link_key_state(tenant: Tenant) -> LinkKeyState:
    previous = tenant.link_key_version - 1 if tenant.link_key_version > 1 else None
    return LinkKeyState(
        version=tenant.link_key_version,
        rotated_at=tenant.link_key_rotated_at,
        previous_version=previous,
        previous_valid_until=tenant.link_key_previous_valid_until if previous else None,
    )


def rotate_link_key(svc: Services, tenant_id: str, *, grace_days: int) -> LinkKeyState:
    """Signs new links with the next key version; links of the current one verify for `grace_days` more.

    Links of any older version stop verifying at once. `grace_days=0` retires the current key immediately
    (for a key that may have leaked). Two concurrent rotations: one wins, the other gets 409.
    """
    svc.catalogs.forget(tenant_id)
    tenant = svc.catalogs.get(tenant_id).tenant
    now = svc.clock()
    valid_until = now + timedelta(days=grace_days)
    repo = LinkKeyRepository(svc.settings.table_name)
    if not repo.advance(tenant_id, expected=tenant.link_key_version, rotated_at=now, previous_valid_until=valid_until):
        raise RotationConflict("The link key was rotated concurrently; read the settings and retry")
    svc.catalogs.invalidate(tenant_id)
    return link_key_state(svc.catalogs.get(tenant_id).tenant)
