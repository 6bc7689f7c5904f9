"""Parental consent (GDPR Art. 8): a minor's consent waits in `pending_parental` until a parent confirms it.

The form gives `parent_email`; the parent gets a link to a localised page (the GET shows one button and changes
nothing) whose POST grants each consent still waiting for a parent. The confirmation is an event in the child's
log, by actor `parent`, with the confirming IP, user agent and time; the granted state carries
`parental_consent`, which campaigns require of anyone found to be a minor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from samtykke.adapters.crypto import TenantKeys
from samtykke.domain import tokens
from samtykke.domain.consent import ActorType, ConsentStatus, EventType
from samtykke.domain.defaults import SUPPORTED_LOCALES
from samtykke.domain.errors import InvalidInput
from samtykke.domain.links import accept_language_locale
from samtykke.domain.mail import OutgoingEmail
from samtykke.models.consent import Actor, Evidence
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange
from samtykke.templates import messages, render_page

PARENTAL_USE = "parental"


class NothingForParent(InvalidInput):
    code = "nothing_to_confirm"
    status = 409


@dataclass(frozen=True)
class ParentalPrompt:
    tenant_name: str
    locale: str
    purposes: str  # the purposes' names, for the page


def _purpose_names(catalog: TenantCatalog, purposes: list[str], locale: str) -> str:
    names = []
    for purpose_id in purposes:
        purpose = catalog.purposes.get(purpose_id)
        names.append((purpose.names.get(locale) if purpose else None) or purpose_id)
    return ", ".join(names)


def request_parental_consent(
    svc: Services,
    catalog: TenantCatalog,
    keys: TenantKeys,
    *,
    contact_id: str,
    purposes: list[str],
    parent_email: str,
    locale: str,
    base_url: str,
) -> None:
    """Mails the parent a link to confirm the child's waiting consents."""
    claims = {
        "t": keys.tenant_id,
        "c": contact_id,
        "p": purposes,
        "l": locale,
        "exp": int(svc.clock().timestamp()) + catalog.tenant.pending_ttl_days * 24 * 3600,
    }
    link = f"{base_url}/v1/public/parental/{tokens.sign(keys.signing_key(PARENTAL_USE), PARENTAL_USE, claims)}"
    m = messages(locale)
    tenant = catalog.tenant.name
    intro = m["parent_intro"].format(tenant=tenant, purposes=_purpose_names(catalog, purposes, locale))
    text = f"{intro}\n\n{link}\n\n{m['parent_ignore']}\n"
    html = render_page("parental_email.html", locale, tenant=tenant, intro=intro, link=link, button=m["parent_button"])
    subject = m["parent_subject"].format(tenant=tenant)
    svc.mailer.send(OutgoingEmail(svc.settings.sender_email, parent_email, subject, text, html))


def _verified(svc: Services, token: str) -> tuple[dict[str, object], TenantCatalog, TenantKeys]:
    catalog = svc.catalogs.get(str(tokens.peek(token).get("t", "")))
    keys = svc.keyring.tenant_keys(catalog.tenant.tenant_id, catalog.root_key_blob)
    claims = tokens.verify(keys.signing_key(PARENTAL_USE), PARENTAL_USE, token, now=int(svc.clock().timestamp()))
    return claims, catalog, keys


def parental_prompt(svc: Services, token: str, accept_language: str | None) -> ParentalPrompt:
    """What the parent's GET shows. Checks the link and changes nothing."""
    claims, catalog, _ = _verified(svc, token)
    preferred = accept_language_locale(accept_language, SUPPORTED_LOCALES)
    locale = str(claims.get("l") or preferred or catalog.tenant.default_locale)
    purposes = [str(p) for p in cast(list[object], claims.get("p", []))]
    return ParentalPrompt(catalog.tenant.name, locale, _purpose_names(catalog, purposes, locale))


def confirm_parental(svc: Services, token: str, evidence: Evidence) -> ParentalPrompt:
    """The parent's POST: each named consent still waiting for a parent becomes granted, with parental consent."""
    claims, catalog, keys = _verified(svc, token)
    purposes = {str(p) for p in cast(list[object], claims.get("p", []))}

    def decide(contact: LoadedContact) -> list[StateChange]:
        return [
            StateChange(
                purpose,
                channel,
                EventType.CONFIRM,
                ConsentStatus.GRANTED,
                state.legal_basis,
                state.source,
                state.text,
                parental_consent=True,
            )
            for (purpose, channel), state in sorted(contact.states.items())
            if purpose in purposes and state.status is ConsentStatus.PENDING_PARENTAL
        ]

    result = Ledger(svc, keys).write(
        ContactTarget(contact_id=str(claims["c"])), decide, Actor(type=ActorType.PARENT), evidence
    )
    if not result.events and not any(
        s.parental_consent for (p, _), s in result.contact.states.items() if p in purposes
    ):
        raise NothingForParent("There is nothing left to confirm with this link")
    locale = str(claims.get("l") or catalog.tenant.default_locale)
    return ParentalPrompt(catalog.tenant.name, locale, _purpose_names(catalog, sorted(purposes), locale))
