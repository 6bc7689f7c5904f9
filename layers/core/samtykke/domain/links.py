"""Pure rules for the links in sent messages: unsubscribe and preference-centre tokens, and link-key rotation.

A link token is a `domain/tokens.py` token whose claims name the tenant (`t`), the contact (`c`) and the
link-key version that signed it (`k`). An unsubscribe token also names the purpose (`p`), the channel (`ch`)
and the campaign or message it came with (`m`); it never expires, since a person may unsubscribe from a
year-old mail. A campaign's token also carries a head hint (`h`, `HeadHint`): the contact's log head as it was
when the link was signed, so that the unsubscribe can write in one call without reading it first.
A preference token may carry an expiry (`exp`) when it is sent on request.

Rotation: the tenant's current link-key version signs every new link. After a rotation, links signed with
the version just before it still verify until the grace period ends; older versions never verify again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from samtykke.domain.consent import Channel
from samtykke.domain.errors import BadRequest
from samtykke.domain.tokens import InvalidToken, b64url, unb64url

MAX_MESSAGE_REF = 64
PUBLIC_KEY_BYTES = 32  # X25519
MAX_REASON = 500
DEFAULT_GRACE_DAYS = 30
MAX_GRACE_DAYS = 365
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CONTACT_ID = re.compile(r"^con_[0-9a-f]{16,64}$")
_MESSAGE_REF = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HINT_LOCALE = re.compile(r"^[a-z]{2}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class LinkUse(StrEnum):
    """The `use` a token is signed for: a token made for one never verifies for the other."""

    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"


class UnsubscribeVia(StrEnum):
    ONE_CLICK = "one-click"  # RFC 8058: a mail client POSTed `List-Unsubscribe=One-Click`
    PAGE = "page"  # the person pressed the button on the unsubscribe page


class UnsubscribeScope(StrEnum):
    PURPOSE = "purpose"  # the purpose and channel the token names
    ALL = "all"  # every consent of the contact, on every channel


class LinkKeyRetired(BadRequest):
    code = "link_expired"


def signing_label(use: LinkUse, key_version: int) -> str:
    """The label `TenantKeys.signing_key` derives the key for one use and one link-key version from."""
    return f"{use.value}/k{key_version}"


@dataclass(frozen=True)
class HeadHint:
    """The contact's log head when an unsubscribe link was signed, with what a write needs besides.

    It says that at `seq`, ending in `last_hash`, the consent the link names was not withdrawn, and that the
    address the link went to has the blind index `address_index`. A write conditioned on `seq` is therefore decided
    already; if the log moved on, the condition fails and the write goes the usual way. `public_key` lets the write
    seal its evidence for the contact without reading the contact's key. Claims: `{"s", "x", "a", "pk", "l"}`.
    """

    seq: int
    last_hash: str
    address_index: str
    public_key: bytes
    locale: str | None = None

    def to_claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "s": self.seq,
            "x": self.last_hash,
            "a": self.address_index,
            "pk": b64url(self.public_key),
        }
        if self.locale:
            claims["l"] = self.locale
        return claims

    @classmethod
    def from_claims(cls, raw: Any) -> HeadHint:
        try:
            seq, last_hash, address_index, locale = raw["s"], raw["x"], raw["a"], raw.get("l")
            public_key = unb64url(raw["pk"])
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise InvalidToken("The link is malformed") from exc
        if not (
            type(seq) is int
            and seq >= 0
            and _is_hex64(last_hash)
            and _is_hex64(address_index)
            and len(public_key) == PUBLIC_KEY_BYTES
            and (locale is None or (isinstance(locale, str) and _HINT_LOCALE.fullmatch(locale)))
        ):
            raise InvalidToken("The link is malformed")
        return cls(seq, last_hash, address_index, public_key, locale)


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


@dataclass(frozen=True)
class UnsubscribeClaims:
    tenant_id: str
    contact_id: str
    purpose: str
    channel: Channel
    message_ref: str
    key_version: int
    head: HeadHint | None = None

    def to_claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "t": self.tenant_id,
            "c": self.contact_id,
            "p": self.purpose,
            "ch": self.channel.value,
            "m": self.message_ref,
            "k": self.key_version,
        }
        if self.head is not None:
            claims["h"] = self.head.to_claims()
        return claims


@dataclass(frozen=True)
class PreferenceClaims:
    tenant_id: str
    contact_id: str
    key_version: int
    expires_at: int | None = None

    def to_claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"t": self.tenant_id, "c": self.contact_id, "k": self.key_version}
        if self.expires_at is not None:
            claims["exp"] = self.expires_at
        return claims


def check_message_ref(message_ref: str) -> str:
    if not _MESSAGE_REF.fullmatch(message_ref):
        raise ValueError(f"message_ref must be 1-{MAX_MESSAGE_REF} characters of [A-Za-z0-9_.:-]")
    return message_ref


def claimed_tenant(claims: dict[str, Any]) -> str:
    """The tenant an (unverified) token names, or InvalidToken if it names none that could exist."""
    tenant_id = claims.get("t")
    if not isinstance(tenant_id, str) or not _SLUG.fullmatch(tenant_id):
        raise InvalidToken("The link is malformed")
    return tenant_id


def claimed_key_version(claims: dict[str, Any]) -> int:
    version = claims.get("k")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidToken("The link is malformed")
    return version


def _contact(claims: dict[str, Any]) -> str:
    contact_id = claims.get("c")
    if not isinstance(contact_id, str) or not _CONTACT_ID.fullmatch(contact_id):
        raise InvalidToken("The link is malformed")
    return contact_id


def unsubscribe_claims(claims: dict[str, Any]) -> UnsubscribeClaims:
    """The verified claims of an unsubscribe token, checked for shape."""
    purpose, channel, message_ref = claims.get("p"), claims.get("ch"), claims.get("m")
    if not isinstance(purpose, str) or not _SLUG.fullmatch(purpose):
        raise InvalidToken("The link is malformed")
    if channel not in set(Channel) or not isinstance(message_ref, str) or not _MESSAGE_REF.fullmatch(message_ref):
        raise InvalidToken("The link is malformed")
    return UnsubscribeClaims(
        tenant_id=claimed_tenant(claims),
        contact_id=_contact(claims),
        purpose=purpose,
        channel=Channel(channel),
        message_ref=message_ref,
        key_version=claimed_key_version(claims),
        head=HeadHint.from_claims(claims["h"]) if "h" in claims else None,
    )


def preference_claims(claims: dict[str, Any]) -> PreferenceClaims:
    expires_at = claims.get("exp")
    return PreferenceClaims(
        tenant_id=claimed_tenant(claims),
        contact_id=_contact(claims),
        key_version=claimed_key_version(claims),
        expires_at=expires_at if isinstance(expires_at, int) else None,
    )


def key_version_accepted(version: int, *, current: int, previous_valid_until: datetime | None, now: datetime) -> bool:
    """The current version always verifies; the one before it only within its grace period; no other ever."""
    if version == current:
        return True
    return version == current - 1 and previous_valid_until is not None and now < previous_valid_until


def clean_reason(reason: str | None) -> str | None:
    """The optional free-text reason for unsubscribing: control characters dropped, at most MAX_REASON long."""
    if reason is None:
        return None
    cleaned = _CONTROL.sub("", reason).strip()[:MAX_REASON]
    return cleaned or None


def evidence_note(**facts: str | None) -> str:
    """The evidence `note` of a link-made change, as compact JSON (sealed with the contact's key)."""
    return json.dumps({k: v for k, v in facts.items() if v is not None}, separators=(",", ":"), ensure_ascii=False)


def accept_language_locale(header: str | None, supported: tuple[str, ...]) -> str | None:
    """The supported locale the browser prefers most (by q-value, then order), or None."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().split("-")[0].lower()
        if language in supported and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None
