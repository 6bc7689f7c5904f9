"""Issue 20, atomic limits: 40 parallel guesses get at most the limit evaluated, for passwords and for TOTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import pytest

from samtykke.domain import lockout
from samtykke.domain.access import Principal, Role
from samtykke.domain.errors import SamtykkeError
from samtykke.models.staff import LoginRequest
from samtykke.models.tenant import Plan
from samtykke.services import mfa, sessions
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.staff_support import PASSWORD, make_staff_factory, use_cheap_scrypt

pytestmark = pytest.mark.integration

PARALLEL = 40


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture(autouse=True)
def atomic_items(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each request atomically; in-process moto does not lock between threads (a transaction
    deep-copies the tables it touches while another thread writes to them). Reentrant: a transaction calls the
    backend's own item methods."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("update_item", "put_item", "delete_item", "get_item", "query", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def _in_parallel(attempt: Callable[[int], Any]) -> list[str]:
    """Runs `attempt(i)` for i in 0..39 at once; each outcome's error code ('ok' for none)."""
    start = threading.Barrier(PARALLEL)

    def run(i: int) -> str:
        start.wait()
        try:
            attempt(i)
        except SamtykkeError as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(run, range(PARALLEL)))


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Wraps `module.name`, recording each call whose second argument is not None (an evaluated guess)."""
    calls: list[int] = []
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if args[1] is not None:
            calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_forty_parallel_password_guesses_get_at_most_five_evaluated(
    svc: Services, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an owner, and a count of every password hash actually compared
    _, email = make_staff_factory(svc)(tenant.tenant_id, Role.OWNER)
    evaluated = _counting(monkeypatch, sessions, "verify_password")

    # When 40 wrong guesses arrive at once, from 40 addresses
    outcomes = _in_parallel(
        lambda i: sessions.login(svc, LoginRequest(email=email, password=f"guess {i}"), ip=f"192.0.2.{i + 1}")
    )

    # Then at most the threshold were evaluated, and every other try was refused as locked
    assert len(evaluated) <= lockout.ACCOUNT_THRESHOLD
    assert outcomes.count("invalid_credentials") == len(evaluated)
    assert outcomes.count("locked") == PARALLEL - len(evaluated)
    # And the account is locked for the right password too
    with pytest.raises(sessions.Locked):
        sessions.login(svc, LoginRequest(email=email, password=PASSWORD), ip="192.0.2.200")


def test_forty_parallel_guesses_from_one_ip_get_at_most_its_limit_evaluated(
    svc: Services, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lockout, "IP_MAX_FAILURES", 10)
    evaluated = _counting(monkeypatch, sessions, "verify_password")
    calls: list[int] = []
    real = sessions.verify_password

    def any_call(password: str, hashed: Any) -> bool:
        calls.append(1)
        return real(password, hashed)

    monkeypatch.setattr(sessions, "verify_password", any_call)
    # 40 different unknown emails (so no account lock), one address
    outcomes = _in_parallel(
        lambda i: sessions.login(svc, LoginRequest(email=f"ghost{i}@acme.example", password="x"), ip="192.0.2.9")
    )
    assert not evaluated  # unknown emails: only the dummy hash
    assert len(calls) <= 10
    assert outcomes.count("rate_limited") == PARALLEL - len(calls)


def _enrolled_owner(svc: Services, make_tenant: Callable[..., TenantFixture]) -> tuple[str, str]:
    """An owner of a Plus tenant with an authenticator enrolled: (email, TOTP secret)."""
    plus = make_tenant("plusco", plan=Plan.PLUS)
    user_id, email = make_staff_factory(svc)(plus.tenant_id, Role.OWNER)
    principal = Principal(tenant_id=plus.tenant_id, principal_id=user_id, principal_type="staff", role=Role.OWNER)
    enrolment = mfa.start_enrolment(svc, principal, ip=None)
    secret = pyotp.parse_uri(enrolment.otpauth_uri).secret
    mfa.verify_enrolment(svc, principal, pyotp.TOTP(secret).at(svc.clock()), ip=None)
    return email, secret


def test_forty_parallel_totp_guesses_get_at_most_five_evaluated(
    svc: Services, make_tenant: Callable[..., TenantFixture], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an owner with an enrolled authenticator, and a count of every code actually checked
    email, _ = _enrolled_owner(svc, make_tenant)
    evaluated = _counting(monkeypatch, mfa.otp, "match_timecode")

    # When 40 logins with the right password and a wrong code arrive at once
    outcomes = _in_parallel(
        lambda i: sessions.login(
            svc, LoginRequest(email=email, password=PASSWORD, totp=f"{i:06d}"), ip=f"192.0.2.{i + 1}"
        )
    )

    # Then at most five codes were checked, and the rest refused as locked
    assert 1 <= len(evaluated) <= lockout.ACCOUNT_THRESHOLD
    assert outcomes.count("locked") == PARALLEL - len(evaluated)


def test_logins_that_still_lack_the_second_factor_use_up_no_attempts(
    svc: Services, make_tenant: Callable[..., TenantFixture]
) -> None:
    # Given an owner with MFA, whose login form first posts without a code, many times over
    email, secret = _enrolled_owner(svc, make_tenant)
    for _ in range(2 * lockout.ACCOUNT_THRESHOLD):
        with pytest.raises(sessions.MfaRequired):
            sessions.login(svc, LoginRequest(email=email, password=PASSWORD), ip="192.0.2.1")
    # Then the account is not locked: the code logs in
    code = pyotp.TOTP(secret).at(svc.clock().timestamp() + 30)  # the next step: the enrolment used this one
    tokens = sessions.login(svc, LoginRequest(email=email, password=PASSWORD, totp=code), ip="192.0.2.1")
    assert tokens.token.startswith("sts_")
