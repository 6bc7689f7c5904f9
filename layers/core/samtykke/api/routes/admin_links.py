"""Admin: a contact's signed links (for CRMs), a test email that carries them, and the link key's rotation."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from samtykke.api.auth import current_principal, guarded
from samtykke.api.request import http_event, public_base_url
from samtykke.domain.access import Permission
from samtykke.domain.audit import AuditAction
from samtykke.domain.consent import Channel
from samtykke.models.links import ContactLinks, LinkKeyRotation, LinkKeyStatus, MessageTestRequest, MessageTestSent
from samtykke.services import link_admin, links
from samtykke.services.context import services

router = Router()

PurposeId = Annotated[
    str, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="The purpose the link unsubscribes from")
]
MessageRef = Annotated[
    str, Query(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="The campaign or message id, logged with a withdrawal")
]


def _tenant() -> str:
    return current_principal(router).tenant_id


def _status(state: links.LinkKeyState) -> LinkKeyStatus:
    return LinkKeyStatus(
        version=state.version,
        rotated_at=state.rotated_at,
        previous_version=state.previous_version,
        previous_valid_until=state.previous_valid_until,
    )


@router.post(
    "/v1/admin/contacts/<contact_id>/links",
    summary="A contact's unsubscribe and preference-centre links",
    description="Signs the contact's unsubscribe link for `purpose` on `channel`, and its preference-centre link, "
    "with the tenant's current link key, and the List-Unsubscribe headers an email would carry. Sends nothing. "
    "Parameters are in the query string; there is no body.",
    tags=["links"],
    **guarded(Permission.CONTACT_LINKS),
)
def issue_links(
    contact_id: str,
    purpose: PurposeId,
    channel: Annotated[Channel, Query(description="The channel the link unsubscribes from")] = Channel.EMAIL,
    message_ref: MessageRef = "admin",
) -> ContactLinks:
    return link_admin.contact_links(
        services(),
        _tenant(),
        contact_id,
        purpose_id=purpose,
        channel=channel,
        message_ref=message_ref,
        base_url=public_base_url(http_event(router)),
    )


@router.post(
    "/v1/admin/messages/test",
    summary="Send one marketing-style test email to a contact",
    description="Carries `List-Unsubscribe` (one-click HTTPS) and `List-Unsubscribe-Post`, and a visible "
    "unsubscribe link. 409 `address_suppressed` if a campaign would skip the address for that purpose.",
    tags=["links"],
    **guarded(Permission.CAMPAIGNS_SEND_TEST),
)
def send_test_message(request: Annotated[MessageTestRequest, Body()]) -> tuple[MessageTestSent, int]:
    sent = link_admin.send_test_message(services(), _tenant(), request, base_url=public_base_url(http_event(router)))
    return sent, 202


@router.get(
    "/v1/admin/settings/link-key",
    summary="The link key's version and the previous version's grace period",
    tags=["settings"],
    **guarded(Permission.SETTINGS_READ),
)
def get_link_key() -> LinkKeyStatus:
    return _status(links.link_key_state(services().catalogs.get(_tenant()).tenant))


@router.post(
    "/v1/admin/settings/link-key/rotate",
    summary="Rotate the key that signs unsubscribe and preference links",
    description="New links are signed with the next key version. Links signed with the current one keep working "
    "for `grace_days` (0 retires them at once); links of any older version stop working now.",
    tags=["settings"],
    **guarded(Permission.SETTINGS_WRITE, audit=AuditAction.LINK_KEY_ROTATED),
)
def rotate_link_key(rotation: Annotated[LinkKeyRotation, Body()]) -> LinkKeyStatus:
    return _status(links.rotate_link_key(services(), _tenant(), grace_days=rotation.grace_days))
