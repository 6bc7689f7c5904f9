"""Admin: finding a person, and their whole consent history ("what do you hold on me?")."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from samtykke.api.auth import current_principal, guarded
from samtykke.domain.access import Permission
from samtykke.models.consent import ConsentLog, ContactSummary
from samtykke.services import contacts
from samtykke.services.context import services

router = Router()

Email = Annotated[str | None, Query(max_length=320, description="Find the person by email address")]
Phone = Annotated[str | None, Query(max_length=32, description="Find the person by phone number")]


@router.get(
    "/v1/admin/contacts",
    summary="Find a contact by email or phone",
    tags=["contacts"],
    **guarded(Permission.CONTACTS_SEARCH),
)
def search_contacts(email: Email = None, phone: Phone = None) -> ContactSummary:
    svc, tenant_id = services(), current_principal(router).tenant_id
    return contacts.contact_summary(svc, tenant_id, contacts.find_contact_id(svc, tenant_id, email=email, phone=phone))


@router.get(
    "/v1/admin/contacts/<contact_id>", summary="Get a contact", tags=["contacts"], **guarded(Permission.CONTACTS_SEARCH)
)
def get_contact(contact_id: str) -> ContactSummary:
    return contacts.contact_summary(services(), current_principal(router).tenant_id, contact_id)


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
