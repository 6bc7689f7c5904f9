"""The console's browser session: the staff session tokens in cookies, and a CSRF token bound to the login.

The console logs in with `services/sessions.login` (password, then TOTP or a recovery code) and keeps the
access token and the refresh token in two cookies: `HttpOnly`, `SameSite=Strict`, `Path=/console`, and
`Secure` everywhere but the local stack's plain-HTTP loopback. An expired access token is swapped for a new one
with the refresh token (which rotates; a reused one ends every session of the user, as for the API).

Every form carries a CSRF token: an HMAC, under a key derived from the tenant's root key, of the user and the
login (the refresh family), so it survives refreshes and dies with the login. Before login, the login form's
token is a random value double-submitted in a short-lived cookie. State-changing requests must also come from the
console's own origin when the browser says where they come from (`Origin`).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.domain.access import Principal, Scope
from samtykke.domain.errors import Forbidden, SamtykkeError
from samtykke.domain.sessions import SESSION_MAX_SECONDS, peek_access_token
from samtykke.models.staff import SessionTokens
from samtykke.services.context import Services
from samtykke.services.session_auth import authenticate_session
from samtykke.settings import get_settings

ACCESS_COOKIE = "samtykke_console"
REFRESH_COOKIE = "samtykke_console_refresh"
LOGIN_COOKIE = "samtykke_console_login"
CSRF_FIELD = "csrf"
CSRF_KEY_USE = "console-csrf"
LOGIN_FORM_SECONDS = 30 * 60
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class CsrfFailed(Forbidden):
    code = "csrf_failed"


@dataclass(frozen=True)
class ConsoleSession:
    principal: Principal
    csrf: str
    # New tokens when the request refreshed the session: the response sets them as cookies.
    refreshed: SessionTokens | None = None


def cookies_of(event: APIGatewayProxyEventV2) -> dict[str, str]:
    jar: dict[str, str] = {}
    for raw in event.cookies or []:
        name, _, value = raw.partition("=")
        jar.setdefault(name.strip(), value.strip())
    return jar


def secure_cookies(event: APIGatewayProxyEventV2) -> bool:
    """Always Secure, except on the local stack when it is reached over plain HTTP on the loopback address."""
    headers = event.headers
    host = (headers.get("host") or "").rsplit(":", 1)[0]
    plain_loopback = headers.get("x-forwarded-proto") == "http" and host in LOOPBACK_HOSTS
    return not (get_settings().stage == "local" and plain_loopback)


def _cookie(name: str, value: str, path: str, secure: bool, max_age: int | None) -> Cookie:
    return Cookie(
        name=name,
        value=value,
        path=path,
        secure=secure,
        http_only=True,
        same_site=SameSite.STRICT_MODE,
        max_age=max_age,
    )


def session_cookies(tokens: SessionTokens, root: str, secure: bool) -> list[Cookie]:
    cookies = [_cookie(ACCESS_COOKIE, tokens.token, root, secure, SESSION_MAX_SECONDS)]
    if tokens.refresh_token:
        cookies.append(_cookie(REFRESH_COOKIE, tokens.refresh_token, root, secure, SESSION_MAX_SECONDS))
    return cookies


def cleared_cookies(root: str, secure: bool) -> list[Cookie]:
    return [_cookie(name, "", root, secure, 0) for name in (ACCESS_COOKIE, REFRESH_COOKIE)]


def login_form_cookie(value: str, root: str, secure: bool) -> Cookie:
    return _cookie(LOGIN_COOKIE, value, root, secure, LOGIN_FORM_SECONDS)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(svc: Services, principal: Principal, login_id: str) -> str:
    keys = svc.keyring.tenant_keys(principal.tenant_id, svc.catalogs.get(principal.tenant_id).root_key_blob)
    message = f"{principal.principal_id}|{login_id}".encode()
    return hmac.new(keys.signing_key(CSRF_KEY_USE), message, sha256).hexdigest()


def _principal(svc: Services, token: str) -> tuple[Principal, str] | None:
    try:
        principal = authenticate_session(svc, token)
        login_id = peek_access_token(token).family_id or ""
    except SamtykkeError:
        return None
    if principal.scope != Scope.FULL:
        return None  # an enrolment-only login: the console sends the user to enrol through the API first
    return principal, login_id


def load_session(svc: Services, event: APIGatewayProxyEventV2, ip: str | None) -> ConsoleSession | None:
    """The logged-in staff user, refreshing an expired access token once; None when there is no valid login."""
    from samtykke.services import sessions

    jar = cookies_of(event)
    found = _principal(svc, jar[ACCESS_COOKIE]) if jar.get(ACCESS_COOKIE) else None
    refreshed = None
    if found is None and jar.get(REFRESH_COOKIE):
        try:
            refreshed = sessions.refresh(svc, jar[REFRESH_COOKIE], ip=ip)
        except SamtykkeError:
            return None
        found = _principal(svc, refreshed.token)
    if found is None:
        return None
    principal, login_id = found
    return ConsoleSession(principal, csrf_token(svc, principal, login_id), refreshed)


def same_origin(event: APIGatewayProxyEventV2) -> bool:
    """A browser's `Origin` on a POST must be the console's own host; a request without one passes to the token."""
    origin = event.headers.get("origin")
    if not origin:
        return True
    host = event.headers.get("host") or event.request_context.domain_name
    return origin.split("://", 1)[-1].rstrip("/") == host


def check_csrf(event: APIGatewayProxyEventV2, expected: str, fields: dict[str, Any]) -> None:
    presented = str(fields.get(CSRF_FIELD, ""))
    if not same_origin(event) or not expected or not hmac.compare_digest(presented, expected):
        raise CsrfFailed("The form has expired or did not come from this console: reload the page and try again")
