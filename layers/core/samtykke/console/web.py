"""What every console page shares: the request context, rendering, the security headers, login and CSRF checks.

A route is declared with `@page(Permission.X)` (or `@page(Permission.X, form=True)` for a POST): the decorator
loads the session (or sends the browser to the login page), checks the permission and, for a form, the CSRF token
and origin, then calls the view with a `Request`. A `SamtykkeError` anywhere becomes an HTML page with its status
and its stable code (in the page and in `X-Samtykke-Error`), never a 500.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.shared.cookies import Cookie
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import ValidationError

from samtykke.api.forms import form_fields
from samtykke.api.request import http_event
from samtykke.console import session as sessions
from samtykke.console.messages import console_messages
from samtykke.domain.access import Permission, Principal
from samtykke.domain.defaults import FALLBACK_LOCALE, SUPPORTED_LOCALES
from samtykke.domain.errors import Forbidden, InvalidInput, SamtykkeError
from samtykke.domain.links import accept_language_locale
from samtykke.domain.masking import mask_text
from samtykke.services.audit import client_ip
from samtykke.services.context import Services, services

CONSOLE = "/console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on its own form posts.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# The sections of the navigation: (key in the messages, path under the console, permission that shows it).
NAVIGATION: tuple[tuple[str, str, Permission], ...] = (
    ("nav_dashboard", "/dashboard", Permission.CONSENT_LOG_READ),
    ("nav_people", "/people", Permission.CONTACTS_SEARCH),
    ("nav_campaigns", "/campaigns", Permission.CAMPAIGNS_READ),
    ("nav_catalog", "/catalog", Permission.CATALOG_READ),
    ("nav_audit", "/audit", Permission.AUDIT_READ),
    ("nav_imports", "/imports", Permission.IMPORTS_READ),
    ("nav_staff", "/staff", Permission.USERS_READ),
)


def root_of(event: APIGatewayProxyEventV2) -> str:
    """`/console`, behind whatever stage path the request came in on."""
    raw = event.raw_path or CONSOLE
    return raw[: raw.find(CONSOLE)] + CONSOLE if CONSOLE in raw else CONSOLE


def locale_of(svc: Services, event: APIGatewayProxyEventV2, tenant_id: str | None) -> str:
    preferred = accept_language_locale(event.headers.get("accept-language"), SUPPORTED_LOCALES)
    if preferred:
        return preferred
    if tenant_id:
        try:
            default = svc.catalogs.get(tenant_id).tenant.default_locale
        except SamtykkeError:
            return FALLBACK_LOCALE
        return default if default in SUPPORTED_LOCALES else FALLBACK_LOCALE
    return FALLBACK_LOCALE


@dataclass
class Request:
    svc: Services
    event: APIGatewayProxyEventV2
    root: str
    locale: str
    session: sessions.ConsoleSession | None = None
    fields: dict[str, str] = field(default_factory=dict)
    cookies: list[Cookie] = field(default_factory=list)

    @property
    def principal(self) -> Principal:
        if self.session is None:
            raise Forbidden("Not logged in", code="not_logged_in")
        return self.session.principal

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def t(self) -> dict[str, str]:
        return console_messages(self.locale)

    @property
    def ip(self) -> str | None:
        return client_ip(self.event)

    def query(self, name: str, default: str = "") -> str:
        return (self.event.query_string_parameters or {}).get(name, default).strip()

    def may(self, permission: Permission) -> bool:
        return self.session is not None and self.principal.may(permission)

    def render(self, template: str, status: int = 200, **context: Any) -> Response[str]:
        from samtykke.templates import render_page

        t = self.t
        navigation = [(t[key], self.root + path) for key, path, permission in NAVIGATION if self.may(permission)]
        html = render_page(
            f"console/{template}",
            self.locale,
            t=t,
            root=self.root,
            me=self.session.principal if self.session else None,
            csrf=self.session.csrf if self.session else context.pop("csrf", ""),
            navigation=navigation,
            current=self.event.raw_path,
            may=self.may,
            **context,
        )
        if self.session is not None and not self.principal.may(Permission.ADDRESSES_READ):
            html = mask_text(html)  # the author never sees an address, whatever a template shows
        return self.respond(status, html)

    def respond(self, status: int, body: str, headers: dict[str, str] | None = None) -> Response[str]:
        cookies = list(self.cookies)
        if self.session is not None and self.session.refreshed is not None:
            cookies += sessions.session_cookies(self.session.refreshed, self.root, sessions.secure_cookies(self.event))
        return Response(
            status_code=status,
            content_type="text/html; charset=utf-8",
            body=body,
            headers=SECURITY_HEADERS | (headers or {}),
            cookies=cookies,
        )

    def redirect(self, path: str) -> Response[str]:
        return self.respond(303, "", {"Location": self.root + path})

    def error(self, exc: SamtykkeError) -> Response[str]:
        headers = {"X-Samtykke-Error": exc.code}
        response = self.render("error.html", exc.status, code=exc.code, message=exc.message)
        response.headers.update(headers)
        return response


View = Callable[..., Response[Any]]
router = Router()


def request_for(router: Router) -> Request:
    svc, event = services(), http_event(router)
    return Request(svc, event, root_of(event), locale_of(svc, event, None))


def page(permission: Permission | None, *, form: bool = False) -> Callable[[View], View]:
    """Login, the permission, and (for a form) the CSRF token and origin, before the view runs."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Response[Any]:
            request = request_for(router)
            try:
                request.session = sessions.load_session(request.svc, request.event, request.ip)
                if request.session is None:
                    if form:
                        raise sessions.CsrfFailed("Your login has ended: log in again")
                    target = quote(request.event.raw_path[len(request.root) :] or "/", safe="/")
                    return request.redirect(f"/login?next={target}")
                request.locale = locale_of(request.svc, request.event, request.tenant_id)
                if form:
                    request.fields = form_fields(request.event)
                    sessions.check_csrf(request.event, request.session.csrf, request.fields)
                if permission is not None and not request.principal.may(permission):
                    raise Forbidden(f"Your role may not do this ({permission.value})", code="permission_denied")
                return view(request, *args, **kwargs)
            except SamtykkeError as exc:
                return request.error(exc)
            except ValidationError as exc:  # a form field the model refuses: the page says which, nothing changed
                fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")}))
                return request.error(InvalidInput(f"Check these fields: {fields}", code="validation_failed"))

        return run

    return decorate
