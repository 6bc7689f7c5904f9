"""Admin uses of signed links: a contact's links for a CRM, and one marketing-style test email."""

from __future__ import annotations

from samtykke.domain.consent import CHANNEL_ADDRESS, AddressKind, Channel
from samtykke.domain.errors import Conflict, InvalidInput
from samtykke.domain.links import check_message_ref
from samtykke.domain.mail import OutgoingEmail
from samtykke.domain.suppression import suppression_reason
from samtykke.models.catalog import Purpose
from samtykke.models.links import ContactLinks, MessageTestRequest, MessageTestSent
from samtykke.services import contacts
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.ledger import Ledger, LoadedContact, new_id
from samtykke.services.links import LinkSigner, head_hint, list_unsubscribe_headers
from samtykke.services.unsubscribe import TenantFace, contact_locale, purpose_name
from samtykke.templates.links import marketing_test_email


class AddressSuppressed(Conflict):
    code = "address_suppressed"


def _purpose(catalog: TenantCatalog, purpose_id: str, channel: Channel) -> Purpose:
    purpose = catalog.purposes.get(purpose_id)
    if purpose is None:
        raise InvalidInput(f"Unknown purpose '{purpose_id}'", code="unknown_purpose")
    if channel not in purpose.channels:
        raise InvalidInput(f"Purpose '{purpose_id}' has no channel '{channel}'", code="unknown_channel")
    return purpose


def _contact(svc: Services, catalog: TenantCatalog, contact_id: str) -> LoadedContact:
    keys = svc.keyring.tenant_keys(catalog.tenant.tenant_id, catalog.root_key_blob)
    return Ledger(svc, keys).load(contact_id)


def contact_links(
    svc: Services,
    tenant_id: str,
    contact_id: str,
    *,
    purpose_id: str,
    channel: Channel,
    message_ref: str,
    base_url: str,
) -> ContactLinks:
    """The contact's unsubscribe link for a purpose and channel, and its preference-centre link. Sends nothing."""
    catalog = svc.catalogs.get(tenant_id)
    _purpose(catalog, purpose_id, channel)
    try:
        check_message_ref(message_ref)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_message_ref") from exc
    contact = _contact(svc, catalog, contact_id)
    signer = LinkSigner.for_tenant(svc, tenant_id, base_url)
    head = head_hint(contact.box, contact.item, CHANNEL_ADDRESS[channel])
    unsubscribe_url = signer.unsubscribe(contact.contact_id, purpose_id, channel, message_ref, head)
    return ContactLinks(
        contact_id=contact.contact_id,
        purpose=purpose_id,
        channel=channel.value,
        message_ref=message_ref,
        unsubscribe_url=unsubscribe_url,
        preference_url=signer.preferences(contact.contact_id),
        headers=list_unsubscribe_headers(unsubscribe_url),
    )


def send_test_message(svc: Services, tenant_id: str, request: MessageTestRequest, *, base_url: str) -> MessageTestSent:
    """One marketing-style email, with the List-Unsubscribe headers and a visible unsubscribe link.

    Refused (409 `address_suppressed`) when the address is suppressed for the purpose, as a campaign would skip it.
    """
    catalog = svc.catalogs.get(tenant_id)
    purpose = _purpose(catalog, request.purpose, Channel.EMAIL)
    contact_id = request.contact_id or contacts.find_contact_id(svc, tenant_id, email=request.email, phone=None)
    contact = _contact(svc, catalog, contact_id)
    email = contact.profile.email
    blind_index = contact.blind_indexes.get(AddressKind.EMAIL)
    if not email or blind_index is None:
        raise InvalidInput("The contact has no email address", code="no_channel_for_address")
    address = svc.repo.get_address(tenant_id, AddressKind.EMAIL.value, blind_index) or {}
    reason = suppression_reason(address.get("suppressions") or {}, Channel.EMAIL, purpose.purpose_id)
    if reason is not None:
        raise AddressSuppressed(f"The address is suppressed for this purpose ({reason.value})")

    message_ref = new_id("msg")
    signer = LinkSigner.for_tenant(svc, tenant_id, base_url)
    head = head_hint(contact.box, contact.item, AddressKind.EMAIL)
    unsubscribe_url = signer.unsubscribe(contact.contact_id, purpose.purpose_id, Channel.EMAIL, message_ref, head)
    preference_url = signer.preferences(contact.contact_id)
    locale = contact_locale(contact, catalog.tenant)
    subject, text, html = marketing_test_email(
        locale,
        tenant_name=catalog.tenant.name,
        purpose=purpose_name(catalog, purpose.purpose_id, locale),
        unsubscribe_url=unsubscribe_url,
        preference_url=preference_url,
        privacy_policy_url=TenantFace.of(catalog.tenant).privacy_policy_url,
    )
    message_id = svc.mailer.send(
        OutgoingEmail(
            svc.settings.sender_email, email, subject, text, html, headers=list_unsubscribe_headers(unsubscribe_url)
        )
    )
    return MessageTestSent(
        message_id=message_id,
        contact_id=contact.contact_id,
        message_ref=message_ref,
        unsubscribe_url=unsubscribe_url,
        preference_url=preference_url,
    )
