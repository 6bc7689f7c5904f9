"""The console's cookie and CSRF rules: pure checks on API Gateway events, no sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from samtykke.console import session
from samtykke.environment import ENV_STAGE
from samtykke.settings import get_settings

pytestmark = pytest.mark.unit


def event(*, host: str, proto: str, origin: str | None = None) -> APIGatewayProxyEventV2:
    headers = {"host": host, "x-forwarded-proto": proto} | ({"origin": origin} if origin else {})
    return APIGatewayProxyEventV2({"headers": headers, "requestContext": {"domainName": host}, "rawPath": "/console"})


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(ENV_STAGE, "local")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("stage")
def test_cookies_are_secure_except_over_plain_http_on_the_local_loopback() -> None:
    assert session.secure_cookies(event(host="127.0.0.1:3000", proto="http")) is False
    assert session.secure_cookies(event(host="localhost:3000", proto="http")) is False
    assert session.secure_cookies(event(host="127.0.0.1:3000", proto="https")) is True
    assert session.secure_cookies(event(host="console.example.com", proto="http")) is True


def test_outside_the_local_stack_cookies_are_always_secure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_STAGE, "aws")
    get_settings.cache_clear()
    try:
        assert session.secure_cookies(event(host="127.0.0.1:3000", proto="http")) is True
    finally:
        get_settings.cache_clear()


def test_a_form_needs_the_token_and_a_matching_origin() -> None:
    own = event(host="console.example.com", proto="https", origin="https://console.example.com")
    session.check_csrf(own, "t0ken", {"csrf": "t0ken"})
    with pytest.raises(session.CsrfFailed):
        session.check_csrf(own, "t0ken", {"csrf": "other"})
    with pytest.raises(session.CsrfFailed):
        session.check_csrf(own, "", {"csrf": ""})  # no expected token (no cookie): never a match
    foreign = event(host="console.example.com", proto="https", origin="https://evil.example")
    with pytest.raises(session.CsrfFailed):
        session.check_csrf(foreign, "t0ken", {"csrf": "t0ken"})
    opaque = event(host="console.example.com", proto="https", origin="null")
    with pytest.raises(session.CsrfFailed):
        session.check_csrf(opaque, "t0ken", {"csrf": "t0ken"})


def test_session_cookies_are_http_only_strict_and_scoped_to_the_console() -> None:
    from samtykke.models.staff import SessionTokens

    tokens = SessionTokens.model_construct(token="sts_a", refresh_token="rt_b")
    access, refresh = (str(c) for c in session.session_cookies(tokens, "/console", secure=True))
    for cookie in (access, refresh):
        assert "; HttpOnly" in cookie
        assert "; SameSite=Strict" in cookie
        assert "; Secure" in cookie
        assert "; Path=/console" in cookie
    assert access.startswith("samtykke_console=sts_a")
    cleared = [str(c) for c in session.cleared_cookies("/console", secure=False)]
    assert all("Max-Age=0" in c and "Secure" not in c for c in cleared)
