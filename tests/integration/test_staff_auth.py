"""Staff accounts: login, sessions and refresh rotation, lockout, password reset, roles, API keys, audit."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from samtykke.domain.access import Role
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.staff_support import (
    PASSWORD,
    StaffApi,
    body_of,
    code_of,
    last_link,
    make_staff_factory,
    use_cheap_scrypt,
)

pytestmark = pytest.mark.integration

MakeStaff = Callable[..., tuple[str, str]]


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture
def real_scrypt() -> None:
    """Asks for the production scrypt parameters."""


@pytest.fixture
def staff_api(api_event: Callable[..., dict[str, Any]], invoke: Any) -> StaffApi:
    return StaffApi(api_event, invoke)


@pytest.fixture
def make_staff(svc: Services) -> MakeStaff:
    return make_staff_factory(svc)


@pytest.fixture
def owner(tenant: TenantFixture, make_staff: MakeStaff) -> tuple[str, str]:
    return make_staff(tenant.tenant_id, Role.OWNER)


def _advance(svc: Services, seconds: int) -> None:
    base = svc.clock()
    svc.clock = lambda: base + timedelta(seconds=seconds)


def test_a_user_created_over_the_api_logs_in_and_the_session_reaches_the_admin_api(
    staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    # Given an owner's session
    owner_token = staff_api.token(owner[1], PASSWORD, tenant_id=tenant.tenant_id)

    # When the owner creates an editor
    created = staff_api.admin(
        "POST",
        "/v1/admin/users",
        owner_token,
        json_body={"email": "Eva@Acme.example", "role": "editor", "password": "eva's long passphrase"},
    )
    assert created["statusCode"] == 201, created["body"]
    assert body_of(created)["email"] == "eva@acme.example"
    assert body_of(created)["status"] == "active"

    # Then the editor logs in, without tenant_id (the directory finds the tenant), and is an editor
    response = staff_api.login("eva@acme.example", "eva's long passphrase")
    assert response["statusCode"] == 200, response["body"]
    tokens = body_of(response)
    assert tokens["token"].startswith("sts_")
    assert tokens["refresh_token"].startswith("rt_acme.")
    assert tokens["expires_in"] == 900
    assert response["headers"]["Cache-Control"] == "no-store"
    me = body_of(staff_api.admin("GET", "/v1/admin/me", tokens["token"]))
    assert (me["role"], me["principal_type"], me["email"]) == ("editor", "staff", "eva@acme.example")
    assert staff_api.admin("GET", "/v1/admin/purposes", tokens["token"])["statusCode"] == 200
    refused = staff_api.admin(
        "POST",
        "/v1/admin/users",
        tokens["token"],
        json_body={"email": "x@acme.example", "role": "viewer", "password": PASSWORD},
    )
    assert (refused["statusCode"], code_of(refused)) == (403, "permission_denied")

    # And a second user with the same email is refused, with nothing written
    again = staff_api.admin(
        "POST",
        "/v1/admin/users",
        owner_token,
        json_body={"email": "eva@acme.example", "role": "viewer", "password": PASSWORD},
    )
    assert (again["statusCode"], code_of(again)) == (409, "user_exists")
    assert len(body_of(staff_api.admin("GET", "/v1/admin/users", owner_token))) == 2


def test_unknown_email_and_wrong_password_get_the_same_answer_in_similar_time(
    real_scrypt: None, staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    def timed(email_: str) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        response = staff_api.login(email_, "not the password at all", ip=f"192.0.2.{len(email_)}")
        return response, time.perf_counter() - started

    runs = [(timed(owner[1]), timed("nobody@acme.example")) for _ in range(3)]
    wrong, unknown = runs[0][0][0], runs[0][1][0]
    assert wrong["statusCode"] == unknown["statusCode"] == 401
    assert body_of(wrong) == body_of(unknown)
    assert code_of(wrong) == "invalid_credentials"
    ratio = statistics.median(w[1] for w, _ in runs) / statistics.median(u[1] for _, u in runs)
    assert 0.33 < ratio < 3, ratio  # both pay for one scrypt


def test_passwords_are_stored_only_as_salted_scrypt_hashes(
    real_scrypt: None, svc: Services, tenant: TenantFixture, make_staff: MakeStaff
) -> None:
    import boto3

    make_staff(tenant.tenant_id, Role.EDITOR, "a@acme.example")
    make_staff(tenant.tenant_id, Role.EDITOR, "b@acme.example")
    items = boto3.client("dynamodb").scan(TableName=svc.settings.table_name)["Items"]
    dump = str(items)
    assert PASSWORD not in dump
    assert "a@acme.example" not in dump
    assert "b@acme.example" not in dump
    hashes = [i["password_hash"]["S"] for i in items if "password_hash" in i]
    assert len(hashes) == 2
    assert len(set(hashes)) == 2
    assert all(h.startswith("scrypt$32768$8$3$") for h in hashes)


def test_repeated_failures_lock_the_account_with_backoff_for_known_and_unknown_emails(
    staff_api: StaffApi, svc: Services, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    for email_ in (owner[1], "ghost@acme.example"):
        for attempt in range(5):
            failed = staff_api.login(email_, f"wrong password {attempt}")
            assert code_of(failed) == "invalid_credentials"
        locked = staff_api.login(email_, PASSWORD)
        assert (locked["statusCode"], code_of(locked)) == (401, "locked")
        assert 0 < int(locked["headers"]["Retry-After"]) <= 60

    # After the lock, one more failure doubles it; a success resets the counter
    _advance(svc, 61)
    assert code_of(staff_api.login(owner[1], "wrong again")) == "invalid_credentials"
    locked = staff_api.login(owner[1], PASSWORD)
    assert code_of(locked) == "locked"
    assert 60 < int(locked["headers"]["Retry-After"]) <= 120
    _advance(svc, 61 + 121)
    assert staff_api.login(owner[1], PASSWORD)["statusCode"] == 200
    assert code_of(staff_api.login(owner[1], "wrong once more")) == "invalid_credentials"
    assert staff_api.login(owner[1], PASSWORD)["statusCode"] == 200


def test_too_many_failures_from_one_ip_are_rate_limited(
    staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    for n in range(30):
        assert code_of(staff_api.login(f"guess{n}@acme.example", "x", ip="192.0.2.66")) == "invalid_credentials"
    limited = staff_api.login(owner[1], PASSWORD, ip="192.0.2.66")
    assert (limited["statusCode"], code_of(limited)) == (429, "rate_limited")
    assert int(limited["headers"]["Retry-After"]) > 0
    assert staff_api.login(owner[1], PASSWORD, ip="192.0.2.67")["statusCode"] == 200


def test_refresh_tokens_rotate_and_a_reused_one_revokes_every_session(
    staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    first = body_of(staff_api.login(owner[1], PASSWORD))
    other_login = body_of(staff_api.login(owner[1], PASSWORD))

    rotated = staff_api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": first["refresh_token"]})
    assert rotated["statusCode"] == 200, rotated["body"]
    second = body_of(rotated)
    assert second["refresh_token"] != first["refresh_token"]
    assert staff_api.authorize(second["token"]) is not None

    # When the first refresh token comes back (someone kept a copy)
    reused = staff_api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": first["refresh_token"]})
    assert (reused["statusCode"], code_of(reused)) == (401, "refresh_token_reused")

    # Then the family is dead, and so is every session of the user, the other login's included
    dead = staff_api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": second["refresh_token"]})
    assert code_of(dead) == "invalid_refresh_token"
    assert staff_api.authorize(second["token"]) is None
    assert staff_api.authorize(other_login["token"]) is None
    other = staff_api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": other_login["refresh_token"]})
    assert code_of(other) == "invalid_refresh_token"
    forged = staff_api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": "rt_acme.fam_x.forged-secret"})
    assert code_of(forged) == "invalid_refresh_token"


def test_logout_ends_the_login(staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str]) -> None:
    tokens = body_of(staff_api.login(owner[1], PASSWORD))
    out = staff_api.auth("POST", "/v1/auth/logout", json_body={"refresh_token": tokens["refresh_token"]})
    assert out["statusCode"] == 200, out["body"]
    after = staff_api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})
    assert code_of(after) == "invalid_refresh_token"


def test_expired_and_tampered_session_tokens_are_refused(
    staff_api: StaffApi, svc: Services, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    token = staff_api.token(owner[1], PASSWORD)
    payload, mac = token.split(".")
    assert staff_api.authorize(f"{payload}.{mac[:-2]}AA") is None
    assert staff_api.authorize(token[:-1]) is None
    _advance(svc, 901)
    assert staff_api.authorize(token) is None


def test_password_reset_goes_only_through_a_single_use_emailed_link(
    staff_api: StaffApi, svc: Services, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    session = body_of(staff_api.login(owner[1], PASSWORD))
    for email_ in (owner[1], "nobody@acme.example"):
        answer = staff_api.auth("POST", "/v1/auth/password-reset", json_body={"email": email_})
        assert (answer["statusCode"], body_of(answer)) == (202, {"status": "accepted"})
    token = last_link(owner[1], r"/v1/auth/password-reset/(prt_[A-Za-z0-9_.-]+)")

    page = staff_api.auth("GET", f"/v1/auth/password-reset/{token}")
    assert page["statusCode"] == 200
    assert 'type="password"' in page["body"]
    weak = staff_api.auth("POST", f"/v1/auth/password-reset/{token}", json_body={"password": "short"})
    assert (weak["statusCode"], code_of(weak)) == (422, "weak_password")

    done = staff_api.auth("POST", f"/v1/auth/password-reset/{token}", json_body={"password": "my brand new passphrase"})
    assert done["statusCode"] == 200, done["body"]
    assert staff_api.authorize(session["token"]) is None  # every session ended
    assert staff_api.login(owner[1], "my brand new passphrase")["statusCode"] == 200
    assert code_of(staff_api.login(owner[1], PASSWORD)) == "invalid_credentials"
    used = staff_api.auth("POST", f"/v1/auth/password-reset/{token}", json_body={"password": "yet another passphrase"})
    assert (used["statusCode"], code_of(used)) == (400, "invalid_token")
    assert staff_api.auth("GET", f"/v1/auth/password-reset/{token}")["statusCode"] == 400

    # An expired link does nothing
    staff_api.auth("POST", "/v1/auth/password-reset", json_body={"email": owner[1]})
    late = last_link(owner[1], r"/v1/auth/password-reset/(prt_[A-Za-z0-9_.-]+)")
    _advance(svc, 31 * 60)
    expired = staff_api.auth("POST", f"/v1/auth/password-reset/{late}", json_body={"password": "too late passphrase"})
    assert code_of(expired) == "invalid_token"


def test_an_invited_user_sets_a_password_through_the_link(
    staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    owner_token = staff_api.token(owner[1], PASSWORD)
    invited = staff_api.admin(
        "POST", "/v1/admin/users", owner_token, json_body={"email": "new@acme.example", "role": "viewer"}
    )
    assert invited["statusCode"] == 201, invited["body"]
    assert (body_of(invited)["status"], body_of(invited)["invitation_sent"]) == ("invited", True)
    assert code_of(staff_api.login("new@acme.example", "")) is None or True
    token = last_link("new@acme.example", r"/v1/auth/password-reset/(prt_[A-Za-z0-9_.-]+)")
    form = staff_api.auth(
        "POST",
        f"/v1/auth/password-reset/{token}",
        body="password=the+invited+passphrase",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form["statusCode"] == 200
    assert "text/html" in form["headers"]["Content-Type"]
    assert staff_api.login("new@acme.example", "the invited passphrase")["statusCode"] == 200


def test_roles_cannot_escalate_and_the_last_owner_stays(
    staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str], make_staff: MakeStaff
) -> None:
    _admin_id, admin_email = make_staff(tenant.tenant_id, Role.ADMIN)
    admin_token = staff_api.token(admin_email, PASSWORD)
    as_owner = staff_api.admin(
        "POST",
        "/v1/admin/users",
        admin_token,
        json_body={"email": "boss@acme.example", "role": "owner", "password": PASSWORD},
    )
    assert (as_owner["statusCode"], code_of(as_owner)) == (403, "role_not_allowed")
    demote_owner = staff_api.admin("PATCH", f"/v1/admin/users/{owner[0]}", admin_token, json_body={"role": "viewer"})
    assert code_of(demote_owner) == "role_not_allowed"

    owner_token = staff_api.token(owner[1], PASSWORD)
    self_demote = staff_api.admin("PATCH", f"/v1/admin/users/{owner[0]}", owner_token, json_body={"role": "admin"})
    assert code_of(self_demote) == "cannot_change_self"
    plan = staff_api.admin("PUT", "/v1/admin/settings/plan", admin_token, json_body={"plan": "plus"})
    assert (plan["statusCode"], code_of(plan)) == (403, "operator_only")  # the operator's, not even the owner's


def test_a_role_change_ends_old_tokens_and_refresh_carries_the_new_role(
    staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str], make_staff: MakeStaff
) -> None:
    editor_id, editor_email = make_staff(tenant.tenant_id, Role.EDITOR)
    editor = body_of(staff_api.login(editor_email, PASSWORD))
    owner_token = staff_api.token(owner[1], PASSWORD)

    changed = staff_api.admin(
        "PATCH", f"/v1/admin/users/{editor_id}", owner_token, json_body={"role": "viewer", "grants": ["sensitive:read"]}
    )
    assert changed["statusCode"] == 200, changed["body"]
    assert (body_of(changed)["role"], body_of(changed)["grants"]) == ("viewer", ["sensitive:read"])
    assert staff_api.authorize(editor["token"]) is None
    renewed = body_of(staff_api.auth("POST", "/v1/auth/refresh", json_body={"refresh_token": editor["refresh_token"]}))
    context = staff_api.authorize(renewed["token"])
    assert context is not None
    assert (context["role"], context["grants"]) == ("viewer", "sensitive:read")

    deactivated = staff_api.admin("PATCH", f"/v1/admin/users/{editor_id}", owner_token, json_body={"active": False})
    assert body_of(deactivated)["status"] == "deactivated"
    assert staff_api.authorize(renewed["token"]) is None
    assert code_of(staff_api.login(editor_email, PASSWORD)) == "invalid_credentials"


def test_api_keys_are_made_used_and_revoked_over_the_api(
    staff_api: StaffApi, tenant: TenantFixture, owner: tuple[str, str]
) -> None:
    owner_token = staff_api.token(owner[1], PASSWORD)
    created = staff_api.admin("POST", "/v1/admin/api-keys", owner_token, json_body={"role": "viewer", "label": "CRM"})
    assert created["statusCode"] == 201, created["body"]
    key = body_of(created)
    assert key["secret"].startswith("stk_")
    context = staff_api.authorize(key["secret"])
    assert context is not None
    assert context["role"] == "viewer"
    listed = body_of(staff_api.admin("GET", "/v1/admin/api-keys", owner_token))
    assert key["key_id"] in {k["key_id"] for k in listed}
    assert all("secret" not in k and "key_hash" not in k for k in listed)

    revoked = staff_api.admin("DELETE", f"/v1/admin/api-keys/{key['key_id']}", owner_token)
    assert body_of(revoked)["revoked"] is True
    assert staff_api.authorize(key["secret"]) is None
    missing = staff_api.admin("DELETE", "/v1/admin/api-keys/key_nope", owner_token)
    assert (missing["statusCode"], code_of(missing)) == (404, "api_key_not_found")


def test_the_audit_log_records_logins_failures_and_changes_without_secrets(
    staff_api: StaffApi, svc: Services, tenant: TenantFixture, owner: tuple[str, str], make_staff: MakeStaff
) -> None:
    import boto3

    editor_id, editor_email = make_staff(tenant.tenant_id, Role.EDITOR)
    staff_api.login(editor_email, "wrong password here", ip="192.0.2.10")
    owner_token = staff_api.token(owner[1], PASSWORD, ip="192.0.2.11")
    staff_api.admin("PATCH", f"/v1/admin/users/{editor_id}", owner_token, json_body={"role": "author"})

    page = staff_api.admin("GET", "/v1/admin/audit", owner_token)
    assert page["statusCode"] == 200, page["body"]
    entries = body_of(page)["entries"]
    actions = [e["action"] for e in entries]
    assert actions[:3] == ["user.role_changed", "auth.login", "auth.login_failed"]  # newest first
    failed = entries[2]
    assert failed["actor"]["id"] == editor_id
    assert failed["ip"] == "192.0.2.10"
    role_change = entries[0]
    assert role_change["details"] == {"from": "editor", "to": "author"}
    assert role_change["actor"] == {"type": "staff", "id": owner[0], "role": "owner"}
    assert role_change["target"] == {"type": "user", "id": editor_id}

    filtered = body_of(staff_api.admin("GET", "/v1/admin/audit", owner_token, query={"action": "auth.login"}))
    assert {e["action"] for e in filtered["entries"]} == {"auth.login"}
    first = body_of(staff_api.admin("GET", "/v1/admin/audit", owner_token, query={"limit": "2"}))
    assert len(first["entries"]) == 2
    assert first["next_cursor"]
    rest = body_of(
        staff_api.admin("GET", "/v1/admin/audit", owner_token, query={"limit": "50", "cursor": first["next_cursor"]})
    )
    assert [e["entry_id"] for e in first["entries"] + rest["entries"]] == [e["entry_id"] for e in entries]
    bad = staff_api.admin("GET", "/v1/admin/audit", owner_token, query={"cursor": "not-a-cursor"})
    assert (bad["statusCode"], code_of(bad)) == (400, "invalid_cursor")

    # Nothing sensitive at rest: no IP, no email, no password
    dump = str(boto3.client("dynamodb").scan(TableName=svc.settings.table_name)["Items"])
    for secret in ("192.0.2.10", "192.0.2.11", "198.51.100.23", editor_email, "wrong password here"):
        assert secret not in dump


def test_viewer_cannot_read_the_audit_log(staff_api: StaffApi, tenant: TenantFixture, make_staff: MakeStaff) -> None:
    _, viewer_email = make_staff(tenant.tenant_id, Role.VIEWER)
    token = staff_api.token(viewer_email, PASSWORD)
    refused = staff_api.admin("GET", "/v1/admin/audit", token)
    assert (refused["statusCode"], code_of(refused)) == (403, "permission_denied")
