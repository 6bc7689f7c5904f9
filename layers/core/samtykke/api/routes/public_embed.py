"""The embeddable consent form: `embed.js` and the purposes and texts it renders (`/form`)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from samtykke.api.params import TenantId
from samtykke.domain.consent import Channel
from samtykke.models.embed import EmbedForm, EmbedPurpose
from samtykke.services.context import services
from samtykke.templates.embed import EMBED_MESSAGES, embed_script

router = Router()

Locale = Annotated[str, Query(pattern=r"^[A-Za-z]{2}([-_][A-Za-z]{2})?$", description="The page's locale")]
PurposeList = Annotated[
    str | None, Query(pattern=r"^[a-z0-9-]{1,63}(,[a-z0-9-]{1,63}){0,19}$", description="Only these, in this order")
]


@router.get(
    "/v1/public/<tenant_id>/embed.js",
    summary="The embeddable consent form (JavaScript, no dependencies, under 10 KB)",
    description="Load it with `<script src=… defer>` on a page whose origin is on the tenant's allow-list. It renders "
    "the tenant's purposes with their current texts in the page's locale, posts the choice with the browser's "
    "Global Privacy Control signal, and shows the result. No cookies, no inline script, no eval.",
    tags=["public"],
    responses={200: {"description": "The script", "content": {"text/javascript": {}}}},
)
def embed_js(tenant_id: TenantId) -> Response[str]:
    services().catalogs.get(tenant_id)  # 404 for an unknown tenant
    return Response(
        status_code=200,
        content_type="text/javascript; charset=utf-8",
        body=embed_script(),
        headers={
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


@router.get(
    "/v1/public/<tenant_id>/form",
    summary="The purposes and consent texts the embeddable form renders, in one locale",
    description="Active email purposes that have a consent text, each in the page's locale if it has one, else the "
    "tenant's default locale, else English. The answer carries `Access-Control-Allow-Origin` for allowed origins.",
    tags=["public"],
)
def embed_form(tenant_id: TenantId, locale: Locale = "en", purposes: PurposeList = None) -> EmbedForm:
    catalog = services().catalogs.get(tenant_id)
    wanted = locale[:2].lower()
    order = purposes.split(",") if purposes else sorted(catalog.purposes)
    shown = []
    for purpose_id in order:
        purpose = catalog.purposes.get(purpose_id)
        if purpose is None or not purpose.active or Channel.EMAIL not in purpose.channels:
            continue
        for candidate in dict.fromkeys((wanted, catalog.tenant.default_locale, "en")):
            text = catalog.text(purpose_id, candidate)
            if text is not None:
                name = purpose.names.get(candidate) or purpose.names.get("en") or purpose_id
                shown.append(
                    EmbedPurpose(
                        purpose_id=purpose_id, name=name, text=text.text, text_version=text.version, locale=candidate
                    )
                )
                break
    messages_locale = wanted if wanted in EMBED_MESSAGES else "en"
    return EmbedForm(
        tenant_id=tenant_id,
        locale=messages_locale,
        privacy_policy_url=catalog.tenant.privacy_policy_url,
        purposes=shown,
        messages=EMBED_MESSAGES[messages_locale],
    )
