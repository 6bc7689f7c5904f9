"""Admin: finding a person, and their whole consent history ("what do you hold on me?")."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.api.params import live_input
from samtykke.domain.access import Permission
from samtykke.domain.consent import Channel, ConsentStatus
from samtykke.models.consent import ConsentLog, ContactList, ContactSummary, CustomFieldsUpdate
from samtykke.services import audit, contact_list, contacts
from samtykke.services.context import services

router = Router()

Email = Annotated[str | None, Query(max_length=320, description="Find the person by email address")]
Phone = Annotated[str | None, Query(max_length=32, description="Find the person by phone number")]


@router.get(
    "/v1/admin/contacts",
    summary="Find a contact by email or phone, or list the tenant's contacts",
    description="With `email` or `phone`: that one contact, with its consent states. Without: a page of the tenant's "
    "contacts, oldest first; with `purpose` (and `channel` when the purpose has several), that purpose's contacts "
    "by contact id, optionally with `status`. `created_from`/`created_to` (dates, inclusive) and `name_prefix` "
    "narrow either; a filtered page may hold fewer than `limit` contacts while more follow. Pass `next_cursor` as "
    "`cursor` until it is null. Every page is audited (`contacts.listed`, naming the contacts); addresses are "
    "masked for the author role.",
    tags=["contacts"],
    **guarded(Permission.CONTACTS_SEARCH),
)
def search_contacts(
    email: Email = None,
    phone: Phone = None,
    purpose: Annotated[str | None, Query(max_length=63, examples=["e-marketing"])] = None,
    channel: Annotated[Channel | None, Query()] = None,
    status: Annotated[ConsentStatus | None, Query()] = None,
    created_from: Annotated[date | None, Query(examples=["2026-01-01"])] = None,
    created_to: Annotated[date | None, Query(examples=["2026-12-31"])] = None,
    name_prefix: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` from the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=contact_list.MAX_PAGE)] = contact_list.MAX_PAGE,
) -> ContactSummary | ContactList:
    svc, principal = services(), current_principal(router)
    if email or phone:
        contact_id = contacts.find_contact_id(svc, principal.tenant_id, email=email, phone=phone)
        return contacts.contact_summary(svc, principal.tenant_id, contact_id)
    where = contact_list.ContactFilter(
        purpose=purpose,
        channel=channel.value if channel else None,
        status=status,
        created_from=created_from,
        created_to=created_to,
        name_prefix=name_prefix,
    )
    ip = audit.client_ip(router.current_event)
    return contact_list.list_contacts(svc, principal, where, limit=limit, cursor=cursor, ip=ip)


@router.get(
    "/v1/admin/contacts/<contact_id>", summary="Get a contact", tags=["contacts"], **guarded(Permission.CONTACTS_SEARCH)
)
def get_contact(contact_id: str) -> ContactSummary:
    return contacts.contact_summary(services(), current_principal(router).tenant_id, contact_id)


@router.patch(
    "/v1/admin/contacts/<contact_id>/custom-fields",
    summary="Set some of a contact's custom fields",
    description="Each value is checked by its declared type (422 `invalid_custom_field`, `unknown_custom_field`, "
    "with `details` naming each bad field) and applies at once; the contact's other fields stay. Audited as "
    "`contact.fields_changed` with the values sealed; the answer is the contact, sensitive fields redacted "
    "without `sensitive:read`.",
    tags=["contacts"],
    **live_input(guarded(Permission.CONTACTS_WRITE), "the id of a live contact"),
)
def set_custom_fields(contact_id: str, update: Annotated[CustomFieldsUpdate, Body()]) -> ContactSummary:
    from samtykke.services.custom_fields import set_custom_fields as set_fields

    ip = audit.client_ip(router.current_event)
    return set_fields(services(), current_principal(router), contact_id, update.custom_fields, ip=ip)


@router.get(
    "/v1/admin/consent-log",
    summary="A person's whole consent history, oldest first",
    description="Find the person by `email` or `phone`. Each event carries its evidence; `chain_intact` tells "
    "whether the log's hash chain verifies.",
    tags=["consent log"],
    **guarded(Permission.CONSENT_LOG_READ),
)
def get_consent_log(email: Email = None, phone: Phone = None) -> ConsentLog:
    svc, tenant_id = services(), current_principal(router).tenant_id
    return contacts.consent_log(svc, tenant_id, contacts.find_contact_id(svc, tenant_id, email=email, phone=phone))
