"""`/v1/auth/*`: staff login, refresh, logout and password reset. Public routes: no bearer needed."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from samtykke.api.params import LIVE_INPUT
from samtykke.api.request import http_event, public_base_url
from samtykke.api.responses import html_response, json_error_doc
from samtykke.domain.errors import SamtykkeError
from samtykke.models.staff import (
    Accepted,
    LoginRequest,
    NewPassword,
    PasswordResetRequest,
    RefreshRequest,
    SessionTokens,
)
from samtykke.services import audit, sessions
from samtykke.services.context import services
from samtykke.templates.staff import password_page

router = Router()

ResetToken = Annotated[str, Path(min_length=20, max_length=300, description="The emailed one-time token")]


def _ip() -> str | None:
    return audit.client_ip(router.current_event)


def _no_store(body: str, status: int = 200) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/v1/auth/login",
    summary="Log in as a staff user",
    description="`email` and `password`, and `totp` (or `recovery_code`) when the user has MFA. Answers a "
    "15-minute bearer session token and a single-use refresh token. 401 `invalid_credentials` for an unknown "
    "email or a wrong password alike; 401 `mfa_required` when a code is needed, `mfa_invalid` for a wrong or "
    "reused code; 401 `locked` and 429 `rate_limited` with `Retry-After` after repeated failures. When the tenant "
    "requires MFA and the user has none, the token is enrolment-only (`scope: mfa_enrolment`).",
    tags=["auth"],
    responses={
        200: {"description": "Logged in", "content": {"application/json": {"model": SessionTokens}}},
        401: json_error_doc("invalid_credentials, mfa_required, mfa_invalid, locked, tenant_required"),
        429: json_error_doc("rate_limited"),
    },
)
def post_login(request: Annotated[LoginRequest, Body()]) -> Response[str]:
    tokens = sessions.login(services(), request, ip=_ip())
    return _no_store(tokens.model_dump_json())


@router.post(
    "/v1/auth/refresh",
    summary="Swap a refresh token for new tokens",
    description="Each refresh token works once. Presenting one that was already swapped revokes the whole login "
    "and every session of the user (401 `refresh_token_reused`).",
    tags=["auth"],
    responses={
        200: {"description": "New tokens", "content": {"application/json": {"model": SessionTokens}}},
        401: json_error_doc("invalid_refresh_token, refresh_token_reused"),
    },
    openapi_extensions={LIVE_INPUT: "the refresh token of a live login"},
)
def post_refresh(request: Annotated[RefreshRequest, Body()]) -> Response[str]:
    return _no_store(sessions.refresh(services(), request.refresh_token, ip=_ip()).model_dump_json())


@router.post(
    "/v1/auth/logout",
    summary="End a login (revoke its refresh tokens)",
    tags=["auth"],
    responses={200: {"description": "Logged out"}, 401: json_error_doc("invalid_refresh_token")},
    openapi_extensions={LIVE_INPUT: "the refresh token of a live login"},
)
def post_logout(request: Annotated[RefreshRequest, Body()]) -> Accepted:
    sessions.logout(services(), request.refresh_token, ip=_ip())
    return Accepted(status="logged_out")


@router.post(
    "/v1/auth/password-reset",
    summary="Email a one-time password-reset link",
    description="Always 202, whether or not the email has an account: the answer tells nothing. The link works "
    "once, for 30 minutes; at most three emails an hour per address.",
    tags=["auth"],
    responses={202: {"description": "Accepted", "content": {"application/json": {"model": Accepted}}}},
)
def post_password_reset(request: Annotated[PasswordResetRequest, Body()]) -> tuple[Accepted, int]:
    svc = services()
    sessions.request_password_reset(
        svc, request.email, request.tenant_id, ip=_ip(), public_base_url=public_base_url(http_event(router))
    )
    return Accepted(status="accepted"), 202


def _locale() -> str:
    return (router.current_event.headers.get("accept-language") or "en")[:2].lower()


@router.get(
    "/v1/auth/password-reset/<token>",
    summary="The set-password page of an emailed link",
    description="A form; opening the link consumes nothing (link scanners are harmless).",
    tags=["auth"],
    responses={200: {"description": "HTML form", "content": {"text/html": {}}}},
)
def get_password_page(token: ResetToken) -> Response[str]:
    if not sessions.reset_token_valid(services(), token):
        return html_response(400, password_page(_locale(), state="invalid", error_code="invalid_token"))
    return html_response(200, password_page(_locale(), state="form", action=f"/v1/auth/password-reset/{token}"))


@router.post(
    "/v1/auth/password-reset/<token>",
    summary="Set the password through an emailed one-time link",
    description="JSON or the page's form post. Consumes the token and ends every session of the user, in one "
    "transaction. 400 `invalid_token` for an unknown, used or expired link; 422 `weak_password`.",
    tags=["auth"],
    responses={200: {"description": "Password set"}, 400: json_error_doc("invalid_token"), 422: json_error_doc("weak")},
    openapi_extensions={LIVE_INPUT: "the token of an emailed link"},
)
def post_new_password(token: ResetToken, body: Annotated[NewPassword, Body()]) -> Response[str]:
    form = "json" not in (router.current_event.headers.get("content-type") or "")
    try:
        sessions.reset_password(services(), token, body.password, ip=_ip())
    except SamtykkeError as exc:
        if not form:
            raise
        state = "form" if exc.code == "weak_password" else "invalid"
        action = f"/v1/auth/password-reset/{token}"
        return html_response(exc.status, password_page(_locale(), state=state, action=action, error_code=exc.code))
    if form:
        return html_response(200, password_page(_locale(), state="done"))
    return _no_store(Accepted(status="password_changed").model_dump_json())
