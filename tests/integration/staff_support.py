"""Helpers for the staff tests: an HTTP-ish client that goes through the real authorizer and handlers.

`StaffApi.admin` does what API Gateway does: it runs the Lambda authorizer on the bearer, puts its context in
the event, and invokes the function the route belongs to (`resources.ROUTES`). Every admin response it sees
under the `author` role is scanned for unmasked addresses on the spot.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
from collections.abc import Callable
from typing import Any

from samtykke.domain.masking import unmasked_addresses
from samtykke.local.apigw import Router
from samtykke.local.outbox import read_outbox
from samtykke.resources import ROUTES
from tests.conftest import load_event

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
UNMASKED_PHONE = re.compile(r"\+\d{8,15}")
_router = Router(ROUTES)


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def code_of(response: dict[str, Any]) -> str | None:
    try:
        return str(body_of(response)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def oathtool(secret: str, at: float | None = None, *, digits: int = 6) -> str:
    """The TOTP code from Debian's oathtool: an implementation independent of pyotp."""
    command = ["oathtool", "--totp", "-b", f"--digits={digits}"]
    if at is not None:
        command.append(f"--now=@{int(at)}")
    command.append(secret)
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def assert_no_unmasked_addresses(body: str, context: str) -> None:
    assert not unmasked_addresses(body), f"{context}: an author saw an address: {body[:500]}"
    assert not UNMASKED_PHONE.search(body), f"{context}: an author saw a phone number: {body[:500]}"


class StaffApi:
    def __init__(self, api_event: Callable[..., dict[str, Any]], invoke: Invoke) -> None:
        self._api_event = api_event
        self._invoke = invoke
        self.author_responses_scanned = 0

    # --- public /v1/auth ------------------------------------------------------------------------------

    def auth(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        ip: str = "198.51.100.23",
        headers: dict[str, str | None] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        event = self._api_event("auth_login", path=path, json_body=json_body, headers=headers, body=body)
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["sourceIp"] = ip
        event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
        match = _router.match(method, path)
        assert match is not None, path
        assert match.route.function == "auth", path
        event["pathParameters"] = match.path_parameters or None
        if method == "GET":
            event.pop("body", None)
        return self._invoke("auth", event)

    def login(
        self,
        email_: str,
        password: str,
        *,
        tenant_id: str | None = None,
        totp: str | None = None,
        recovery_code: str | None = None,
        ip: str = "198.51.100.23",
    ) -> dict[str, Any]:
        body = {
            "email": email_,
            "password": password,
            "tenant_id": tenant_id,
            "totp": totp,
            "recovery_code": recovery_code,
        }
        return self.auth("POST", "/v1/auth/login", json_body={k: v for k, v in body.items() if v is not None}, ip=ip)

    def token(self, email_: str, password: str, **kwargs: Any) -> str:
        response = self.login(email_, password, **kwargs)
        assert response["statusCode"] == 200, response["body"]
        return str(body_of(response)["token"])

    # --- admin, through the authorizer ----------------------------------------------------------------

    def authorize(self, bearer: str) -> dict[str, Any] | None:
        event = load_event("apigw/authorizer_request.json")
        event["headers"]["authorization"] = f"Bearer {bearer}"
        decision = self._invoke("authorizer", event)
        return decision.get("context") if decision.get("isAuthorized") else None

    def admin(
        self,
        method: str,
        path: str,
        bearer: str,
        *,
        json_body: Any = None,
        query: dict[str, str] | None = None,
        ip: str = "203.0.113.7",
    ) -> dict[str, Any]:
        context = self.authorize(bearer)
        if context is None:  # API Gateway's answer to isAuthorized=false
            return {"statusCode": 403, "body": json.dumps({"message": "Forbidden"}), "headers": {}}
        match = _router.match(method, path.split("?")[0])
        assert match is not None, path
        event = self._api_event("admin_request", path=path, json_body=json_body, query=query, authorizer=context)
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["sourceIp"] = ip
        event["routeKey"] = event["requestContext"]["routeKey"] = match.route_key
        event["pathParameters"] = match.path_parameters
        response = self._invoke(match.route.function, event)
        if context.get("role") == "author":
            self.author_responses_scanned += 1
            assert_no_unmasked_addresses(response.get("body") or "", f"{method} {path}")
        return response


def last_link(to: str, pattern: str) -> str:
    mails = [m for m in read_outbox(to) if m["channel"] == "email"]
    assert mails, f"no email to {to}"
    message = email.message_from_string(mails[-1]["raw"], policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(pattern, text)
    assert match, text
    return match.group(1)


PASSWORD = "a long enough passphrase"
CHEAP_SCRYPT_N = 2**10  # tests that do not measure scrypt itself hash with this, to stay fast


def use_cheap_scrypt(request: Any, monkeypatch: Any) -> None:
    """Production parameters only for tests that ask for the `real_scrypt` fixture; hashes carry their params."""
    if "real_scrypt" not in request.fixturenames:
        from samtykke.domain import passwords

        monkeypatch.setattr(passwords, "CURRENT", passwords.ScryptParams(n=CHEAP_SCRYPT_N))


def make_staff_factory(svc: Any) -> Callable[..., tuple[str, str]]:
    """`make(tenant_id, role, email=None, grants=())` -> (user_id, email): a user made directly, as the CLI does."""
    import itertools

    from samtykke.domain.access import Role
    from samtykke.models.staff import UserCreate
    from samtykke.services.staff import create_user

    counter = itertools.count(1)

    def make(
        tenant_id: str,
        role: Role | str,
        email_: str | None = None,
        grants: tuple[str, ...] = (),
        password: str | None = PASSWORD,
    ) -> tuple[str, str]:
        email_ = email_ or f"{Role(role).value}{next(counter)}@{tenant_id}.example"
        new = UserCreate(email=email_, role=Role(role), password=password, grants=list(grants))  # type: ignore[arg-type]
        created = create_user(svc, tenant_id, new, actor=None, ip=None, public_base_url="https://consent.example.test")
        return created.user_id, email_

    return make
