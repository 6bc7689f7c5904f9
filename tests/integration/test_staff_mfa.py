"""TOTP multi-factor login with codes from an independent implementation (Debian's oathtool), on moto."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from samtykke.domain.access import Role
from samtykke.domain.errors import SamtykkeError
from samtykke.models.tenant import Plan
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.staff_support import (
    PASSWORD,
    StaffApi,
    body_of,
    code_of,
    make_staff_factory,
    oathtool,
    use_cheap_scrypt,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("oathtool") is None, reason="apt-get install oathtool (.ci/run does)"),
]

NOW = datetime(2026, 11, 23, 9, 15, 10, tzinfo=UTC)  # 10 s into a 30 s step


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture
def staff_api(api_event: Callable[..., dict[str, Any]], invoke: Any) -> StaffApi:
    return StaffApi(api_event, invoke)


@pytest.fixture
def clock(svc: Services) -> Callable[[float], None]:
    """Pins the services' clock at NOW + offset seconds."""

    def set_offset(seconds: float = 0) -> None:
        svc.clock = lambda: datetime.fromtimestamp(NOW.timestamp() + seconds, UTC)

    set_offset(0)
    return set_offset


@pytest.fixture
def plus_tenant(make_tenant: Callable[..., TenantFixture]) -> TenantFixture:
    return make_tenant("plusco", plan=Plan.PLUS)


@pytest.fixture
def make_staff(svc: Services) -> Callable[..., tuple[str, str]]:
    return make_staff_factory(svc)


def enrol(staff_api: StaffApi, token: str) -> tuple[str, list[str]]:
    """Enrols a factor with a first oathtool code; returns the secret and the recovery codes."""
    started = staff_api.admin("POST", "/v1/admin/me/mfa", token)
    assert started["statusCode"] == 201, started["body"]
    enrolment = body_of(started)
    uri = urlparse(enrolment["otpauth_uri"])
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    secret = parse_qs(uri.query)["secret"][0]
    assert secret == enrolment["secret"]
    assert enrolment["qr_svg"].startswith("<svg")
    assert "</svg>" in enrolment["qr_svg"]
    verified = staff_api.admin(
        "POST", "/v1/admin/me/mfa/verify", token, json_body={"code": oathtool(secret, NOW.timestamp())}
    )
    assert verified["statusCode"] == 200, verified["body"]
    codes = body_of(verified)["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    return secret, codes


def operator_sets_plan(svc: Services, tenant_id: str, plan: Plan) -> dict[str, Any]:
    """What `samtykke tenant plan` does, with the deployment's credentials (never a tenant's)."""
    from samtykke.services.audit import AuditActor
    from samtykke.services.staff import set_plan

    return set_plan(svc, AuditActor(tenant_id, "operator", "ops"), plan)


def test_basic_plan_tenants_get_plan_required(
    svc: Services, staff_api: StaffApi, tenant: TenantFixture, make_staff: Callable[..., tuple[str, str]]
) -> None:
    _, email = make_staff(tenant.tenant_id, Role.OWNER)
    token = staff_api.token(email, PASSWORD)
    for method, path, body in (
        ("POST", "/v1/admin/me/mfa", None),
        ("PUT", "/v1/admin/settings/security", {"mfa_required": True}),
    ):
        response = staff_api.admin(method, path, token, json_body=body)
        assert (response["statusCode"], code_of(response)) == (403, "plan_required"), path

    # The owner may not upgrade the plan; the operator does; then enrolment starts
    refused = staff_api.admin("PUT", "/v1/admin/settings/plan", token, json_body={"plan": "plus"})
    assert (refused["statusCode"], code_of(refused)) == (403, "operator_only")
    upgraded = operator_sets_plan(svc, tenant.tenant_id, Plan.PLUS)
    assert upgraded == {"plan": "plus", "mfa_required": False, "mfa_available": True}
    assert staff_api.admin("POST", "/v1/admin/me/mfa", token)["statusCode"] == 201


def test_oathtool_codes_log_in_and_no_code_is_accepted_twice(
    staff_api: StaffApi,
    clock: Callable[[float], None],
    plus_tenant: TenantFixture,
    make_staff: Callable[..., tuple[str, str]],
) -> None:
    _, email = make_staff(plus_tenant.tenant_id, Role.EDITOR)
    secret, _ = enrol(staff_api, staff_api.token(email, PASSWORD))

    # The factor is active: a password alone is not enough
    missing = staff_api.login(email, PASSWORD)
    assert (missing["statusCode"], code_of(missing)) == (401, "mfa_required")

    # The enrolment's own code is spent: it cannot log in
    reused_enrolment_code = staff_api.login(email, PASSWORD, totp=oathtool(secret, NOW.timestamp()))
    assert (reused_enrolment_code["statusCode"], code_of(reused_enrolment_code)) == (401, "mfa_invalid")

    # The next step's code logs in, once
    clock(30)
    code = oathtool(secret, NOW.timestamp() + 30)
    ok = staff_api.login(email, PASSWORD, totp=code)
    assert ok["statusCode"] == 200, ok["body"]
    assert staff_api.authorize(body_of(ok)["token"]) is not None
    replay = staff_api.login(email, PASSWORD, totp=code)
    assert (replay["statusCode"], code_of(replay)) == (401, "mfa_invalid")

    # A code from two steps ago is refused; one from one step ahead (a fast phone) is fine
    clock(120)
    stale = staff_api.login(email, PASSWORD, totp=oathtool(secret, NOW.timestamp() + 60))
    assert code_of(stale) == "mfa_invalid"
    ahead = staff_api.login(email, PASSWORD, totp=oathtool(secret, NOW.timestamp() + 150))
    assert ahead["statusCode"] == 200, ahead["body"]
    # ...and after accepting a later step, the current step's code is an earlier step: refused
    assert code_of(staff_api.login(email, PASSWORD, totp=oathtool(secret, NOW.timestamp() + 120))) == "mfa_invalid"


def test_recovery_codes_work_once(
    staff_api: StaffApi,
    clock: Callable[[float], None],
    plus_tenant: TenantFixture,
    make_staff: Callable[..., tuple[str, str]],
) -> None:
    _, email = make_staff(plus_tenant.tenant_id, Role.VIEWER)
    _, codes = enrol(staff_api, staff_api.token(email, PASSWORD))
    first = staff_api.login(email, PASSWORD, recovery_code=codes[0].upper())
    assert first["statusCode"] == 200, first["body"]
    again = staff_api.login(email, PASSWORD, recovery_code=codes[0])
    assert code_of(again) == "mfa_invalid"
    assert staff_api.login(email, PASSWORD, recovery_code=codes[1])["statusCode"] == 200


def test_wrong_codes_count_towards_the_lockout(
    staff_api: StaffApi,
    clock: Callable[[float], None],
    plus_tenant: TenantFixture,
    make_staff: Callable[..., tuple[str, str]],
) -> None:
    _, email = make_staff(plus_tenant.tenant_id, Role.EDITOR)
    secret, _ = enrol(staff_api, staff_api.token(email, PASSWORD))
    for n in range(5):
        assert code_of(staff_api.login(email, PASSWORD, totp=f"00000{n}")) == "mfa_invalid"
    clock(30)
    locked = staff_api.login(email, PASSWORD, totp=oathtool(secret, NOW.timestamp() + 30))
    assert (locked["statusCode"], code_of(locked)) == (401, "locked")


def test_enrolment_needs_a_valid_first_code_and_attempts_are_limited(
    staff_api: StaffApi,
    clock: Callable[[float], None],
    plus_tenant: TenantFixture,
    make_staff: Callable[..., tuple[str, str]],
) -> None:
    _, email = make_staff(plus_tenant.tenant_id, Role.EDITOR)
    token = staff_api.token(email, PASSWORD)
    assert code_of(staff_api.admin("POST", "/v1/admin/me/mfa/verify", token, json_body={"code": "123456"})) == (
        "no_pending_enrolment"
    )
    secret = body_of(staff_api.admin("POST", "/v1/admin/me/mfa", token))["secret"]
    for _ in range(5):
        wrong = staff_api.admin("POST", "/v1/admin/me/mfa/verify", token, json_body={"code": "000000"})
        assert code_of(wrong) == "mfa_invalid"
    locked = staff_api.admin(
        "POST", "/v1/admin/me/mfa/verify", token, json_body={"code": oathtool(secret, NOW.timestamp())}
    )
    assert code_of(locked) == "locked"
    # Not active: a password still logs in
    assert staff_api.login(email, PASSWORD)["statusCode"] == 200
    # The secret is never shown again
    me = body_of(staff_api.admin("GET", "/v1/admin/me", token))
    assert secret not in str(me)
    assert me["mfa_enabled"] is False


def test_api_keys_cannot_enrol(staff_api: StaffApi, plus_tenant: TenantFixture) -> None:
    refused = staff_api.admin("POST", "/v1/admin/me/mfa", plus_tenant.api_key)
    assert (refused["statusCode"], code_of(refused)) == (403, "staff_only")


def test_a_tenant_that_requires_mfa_gives_unenrolled_staff_an_enrolment_only_session(
    svc: Services,
    staff_api: StaffApi,
    clock: Callable[[float], None],
    plus_tenant: TenantFixture,
    make_staff: Callable[..., tuple[str, str]],
) -> None:
    _, owner_email = make_staff(plus_tenant.tenant_id, Role.OWNER)
    owner_secret, _ = enrol(staff_api, staff_api.token(owner_email, PASSWORD))
    clock(30)
    owner_token = staff_api.token(owner_email, PASSWORD, totp=oathtool(owner_secret, NOW.timestamp() + 30))
    required = staff_api.admin("PUT", "/v1/admin/settings/security", owner_token, json_body={"mfa_required": True})
    assert body_of(required)["mfa_required"] is True
    with pytest.raises(SamtykkeError) as downgrade:  # not even the operator, while the tenant requires MFA
        operator_sets_plan(svc, plus_tenant.tenant_id, Plan.BASIC)
    assert downgrade.value.code == "mfa_required_by_policy"

    # An editor without a factor logs in: the session may only enrol
    _, email = make_staff(plus_tenant.tenant_id, Role.EDITOR)
    login = body_of(staff_api.login(email, PASSWORD))
    assert (login["scope"], login["mfa_enrolment_required"], login["refresh_token"]) == ("mfa_enrolment", True, None)
    blocked = staff_api.admin("GET", "/v1/admin/purposes", login["token"])
    assert (blocked["statusCode"], code_of(blocked)) == (403, "mfa_enrolment_required")
    assert body_of(staff_api.admin("GET", "/v1/admin/me", login["token"]))["scope"] == "mfa_enrolment"

    # Enrolling ends the restricted session; logging in with a code gives a full one
    secret, _ = enrol(staff_api, login["token"])
    assert staff_api.authorize(login["token"]) is None
    clock(60)
    full = body_of(staff_api.login(email, PASSWORD, totp=oathtool(secret, NOW.timestamp() + 60)))
    assert full["scope"] == "full"
    assert staff_api.admin("GET", "/v1/admin/purposes", full["token"])["statusCode"] == 200


def test_disabling_and_admin_reset_of_a_factor(
    staff_api: StaffApi,
    clock: Callable[[float], None],
    plus_tenant: TenantFixture,
    make_staff: Callable[..., tuple[str, str]],
) -> None:
    _, owner_email = make_staff(plus_tenant.tenant_id, Role.OWNER)
    owner_token = staff_api.token(owner_email, PASSWORD)
    user_id, email = make_staff(plus_tenant.tenant_id, Role.EDITOR)
    secret, _ = enrol(staff_api, staff_api.token(email, PASSWORD))

    # An admin removes the factor of a user who lost their phone
    reset = staff_api.admin("POST", f"/v1/admin/users/{user_id}/mfa/reset", owner_token)
    assert body_of(reset)["mfa_enabled"] is False
    assert staff_api.login(email, PASSWORD)["statusCode"] == 200

    # The user enrols again and removes it themselves, with a current code
    clock(30)
    token = staff_api.token(email, PASSWORD)
    started = body_of(staff_api.admin("POST", "/v1/admin/me/mfa", token))
    staff_api.admin(
        "POST", "/v1/admin/me/mfa/verify", token, json_body={"code": oathtool(started["secret"], NOW.timestamp() + 30)}
    )
    clock(60)
    token = staff_api.token(email, PASSWORD, totp=oathtool(started["secret"], NOW.timestamp() + 60))
    clock(90)
    off = staff_api.admin(
        "POST", "/v1/admin/me/mfa/disable", token, json_body={"code": oathtool(started["secret"], NOW.timestamp() + 90)}
    )
    assert body_of(off) == {"mfa_enabled": False}, off["body"]
    assert staff_api.login(email, PASSWORD)["statusCode"] == 200
    assert secret != started["secret"]


def test_mfa_enrolment_and_use_are_audited(
    staff_api: StaffApi,
    clock: Callable[[float], None],
    plus_tenant: TenantFixture,
    make_staff: Callable[..., tuple[str, str]],
) -> None:
    _, owner_email = make_staff(plus_tenant.tenant_id, Role.OWNER)
    secret, _ = enrol(staff_api, staff_api.token(owner_email, PASSWORD))
    clock(30)
    token = staff_api.token(owner_email, PASSWORD, totp=oathtool(secret, NOW.timestamp() + 30))
    staff_api.login(owner_email, PASSWORD, totp="999999")
    actions = [e["action"] for e in body_of(staff_api.admin("GET", "/v1/admin/audit", token))["entries"]]
    for expected in ("mfa.enrolment_started", "mfa.enrolled", "mfa.used", "mfa.failed", "auth.login"):
        assert expected in actions
