"""Pure rules of staff access: roles, passwords, TOTP (RFC 6238 vectors, oathtool), session tokens, masking."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pytest

from samtykke.domain import lockout, passwords, totp
from samtykke.domain.access import ROLE_PERMISSIONS, Permission, Principal, Role, Scope, may_assign
from samtykke.domain.audit import clean_details
from samtykke.domain.errors import Unauthorized
from samtykke.domain.masking import Shaping, mask_email, mask_phone, sensitive_keys, shape, unmasked_addresses
from samtykke.domain.sessions import (
    InvalidSession,
    SessionClaims,
    parse_refresh_token,
    sign_access_token,
    verify_access_token,
)

pytestmark = pytest.mark.unit

# RFC 6238, Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890"; 8-digit codes.
RFC_SECRET_SHA1 = base64.b32encode(b"12345678901234567890").decode()
RFC_SECRET_SHA256 = base64.b32encode(b"12345678901234567890123456789012").decode()
RFC_SECRET_SHA512 = base64.b32encode(b"1234567890123456789012345678901234567890123456789012345678901234").decode()
RFC_VECTORS = [  # time, SHA1, SHA256, SHA512
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


# --- roles ---------------------------------------------------------------------------------------------------


def test_the_role_matrix() -> None:
    p = Permission
    assert ROLE_PERMISSIONS[Role.OWNER] == frozenset(Permission)
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)  # the plan is no tenant role's: the operator's
    editor, author, viewer = (ROLE_PERMISSIONS[r] for r in (Role.EDITOR, Role.AUTHOR, Role.VIEWER))
    assert {p.CONTACTS_SEARCH, p.CONSENT_LOG_READ, p.ADDRESSES_READ, p.EVIDENCE_READ, p.SELF} <= editor
    assert not editor & {p.USERS_WRITE, p.SETTINGS_WRITE, p.CATALOG_WRITE, p.SENSITIVE_READ, p.AUDIT_READ}
    assert {p.CONTACTS_SEARCH, p.CATALOG_READ, p.SELF} <= author
    assert not author & {p.ADDRESSES_READ, p.EVIDENCE_READ, p.SENSITIVE_READ}
    assert not any(perm.value.split(":")[1] in ("import", "export", "erase") for perm in author)
    assert all(perm.value.endswith((":read", ":search")) or perm is p.SELF for perm in viewer)
    assert not viewer & {p.AUDIT_READ, p.USERS_READ, p.SENSITIVE_READ}


def test_sensitive_read_is_a_grant_on_top_of_a_role() -> None:
    viewer = Principal("t", "u", "staff", Role.VIEWER)
    granted = Principal("t", "u", "staff", Role.VIEWER, grants=frozenset({Permission.SENSITIVE_READ}))
    assert not viewer.may(Permission.SENSITIVE_READ)
    assert granted.may(Permission.SENSITIVE_READ)
    assert not granted.may(Permission.USERS_WRITE)


def test_nobody_gives_more_than_they_hold() -> None:
    admin = Principal("t", "u", "staff", Role.ADMIN, grants=frozenset())
    editor = Principal("t", "u", "staff", Role.EDITOR)
    assert may_assign(admin, Role.ADMIN, frozenset({Permission.SENSITIVE_READ}))
    assert not may_assign(admin, Role.OWNER, frozenset())
    assert not may_assign(editor, Role.EDITOR, frozenset({Permission.SENSITIVE_READ}))


# --- passwords -----------------------------------------------------------------------------------------------


def test_scrypt_hashes_are_salted_carry_their_parameters_and_verify() -> None:
    cheap = passwords.ScryptParams(n=2**10)
    first, second = (
        passwords.hash_password("correct horse battery", cheap),
        passwords.hash_password("correct horse battery", cheap),
    )
    assert first != second
    assert first.startswith("scrypt$1024$8$3$")
    assert passwords.verify_password("correct horse battery", first)
    assert not passwords.verify_password("correct horse batterz", first)
    assert not passwords.verify_password("anything", None)
    assert not passwords.verify_password("anything", "garbage")
    assert passwords.needs_rehash(first)  # below the current parameters: upgraded at the next login


def test_the_password_policy() -> None:
    for weak in ("short", "aaaaaaaaaaaaaaaa", "x" * 300):
        with pytest.raises(passwords.WeakPassword):
            passwords.check_policy(weak)
    passwords.check_policy("correct horse battery")


# --- TOTP ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC_VECTORS)
def test_rfc_6238_appendix_b_vectors_pass_through_the_verifier(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for secret, code, digest in (
        (RFC_SECRET_SHA1, sha1, "sha1"),
        (RFC_SECRET_SHA256, sha256, "sha256"),
        (RFC_SECRET_SHA512, sha512, "sha512"),
    ):
        step = totp.match_timecode(secret, code, at, digits=8, digest=digest, window=0)
        assert step == at // 30, (digest, at)
        assert totp.match_timecode(secret, code, at, digits=8, digest=digest, after=at // 30) is None


def test_the_window_is_one_step_either_side() -> None:
    secret, now = totp.new_secret(), 1_800_000_015.0
    step = int(now // 30)
    for offset in (-1, 0, 1):
        assert totp.match_timecode(secret, totp.code_at(secret, step + offset), now) == step + offset
    for offset in (-2, 2):
        assert totp.match_timecode(secret, totp.code_at(secret, step + offset), now) is None
    assert totp.match_timecode(secret, "12345", now) is None
    assert totp.match_timecode(secret, "abcdef", now) is None


@pytest.mark.skipif(shutil.which("oathtool") is None, reason="apt-get install oathtool")
def test_oathtool_and_our_verifier_agree() -> None:
    secret = totp.new_secret()
    for at in (0, 59, 1_111_111_109, 1_800_000_015):
        code = subprocess.run(
            ["oathtool", "--totp", "-b", f"--now=@{at}", secret], check=True, capture_output=True, text=True
        ).stdout.strip()
        assert totp.match_timecode(secret, code, at, window=0) == at // 30
    rfc = subprocess.run(
        ["oathtool", "--totp", "-b", "--digits=8", "--now=@1111111109", RFC_SECRET_SHA1],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert rfc == "07081804"


def test_otpauth_uri_and_recovery_codes() -> None:
    uri = totp.otpauth_uri("JBSWY3DPEHPK3PXP", account="eva@acme.example", issuer="samtykke (Acme A/S)")
    assert uri.startswith("otpauth://totp/samtykke%20%28Acme%20A%2FS%29:eva@acme.example?secret=JBSWY3DPEHPK3PXP")
    assert "issuer=samtykke%20%28Acme%20A%2FS%29" in uri
    assert "digits=6" in uri
    assert "period=30" in uri
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    key = hashlib.sha256(b"k").digest()
    assert totp.recovery_code_hash(key, "u", codes[0]) == totp.recovery_code_hash(key, "u", codes[0].upper())
    assert totp.recovery_code_hash(key, "u", codes[0]) != totp.recovery_code_hash(key, "v", codes[0])


# --- session tokens ------------------------------------------------------------------------------------------


def _claims(tenant: str = "acme", expires: int = 2_000) -> SessionClaims:
    return SessionClaims(
        tenant_id=tenant,
        user_id="usr_1",
        role=Role.EDITOR,
        grants=frozenset({Permission.SENSITIVE_READ}),
        scope=Scope.FULL,
        session_epoch=3,
        authz_version=1,
        family_id="fam_1",
        issued_at=1_000,
        expires_at=expires,
    )


def test_session_tokens_verify_only_with_their_key_and_before_expiry() -> None:
    key, other = b"k" * 32, b"o" * 32
    token = sign_access_token(key, _claims())
    claims = verify_access_token(key, token, now=1_500)
    assert (claims.tenant_id, claims.role, claims.grants, claims.session_epoch) == (
        "acme",
        Role.EDITOR,
        frozenset({Permission.SENSITIVE_READ}),
        3,
    )
    with pytest.raises(InvalidSession):
        verify_access_token(other, token, now=1_500)  # another tenant's key
    with pytest.raises(InvalidSession) as expired:
        verify_access_token(key, token, now=2_000)
    assert expired.value.code == "session_expired"
    payload, mac = token.split(".")
    with pytest.raises(InvalidSession):
        verify_access_token(key, payload[:-2] + "xx." + mac, now=1_500)
    for garbage in ("sts_", "sts_a.b", "stk_abc", "sts_" + "A" * 5000):
        with pytest.raises(InvalidSession):
            verify_access_token(key, garbage, now=1_500)


def test_refresh_tokens_parse_strictly() -> None:
    token = parse_refresh_token("rt_acme.fam_1.secret")
    assert (token.tenant_id, token.family_id, token.secret) == ("acme", "fam_1", "secret")
    for bad in ("rt_acme.fam_1", "rt_ACME!.f.s", "xx_acme.f.s", "rt_acme.fam.."):
        with pytest.raises(Unauthorized):
            parse_refresh_token(bad)


# --- masking, lockout, audit details --------------------------------------------------------------------------


def test_masking_addresses_evidence_and_sensitive_fields() -> None:
    assert mask_email("jens@example.dk") == "j***@example.dk"
    assert mask_phone("+4520304050") == "+45******50"
    body = {
        "email": "jens@example.dk",
        "phone": "+4520304050",
        "note": "write to anna@example.dk or +4560708090",
        "events": [{"evidence": {"ip": "203.0.113.7"}, "national_id": "010203-1234"}],
        "mobile": "20 30 40 50",
        "count": 3,
    }
    author = Shaping(mask_addresses=True, withhold_evidence=True, redact_keys=sensitive_keys(["loyalty_id"]))
    shaped = shape(body, author)
    assert shaped["email"] == "j***@example.dk"
    assert shaped["phone"] == "+45******50"
    assert shaped["note"] == "write to a***@example.dk or +45******90"
    assert shaped["events"] == [{"evidence": None, "national_id": "[redacted]"}]
    assert shaped["mobile"] == "20****50"
    assert shaped["count"] == 3
    assert not unmasked_addresses(str(shaped))
    assert shape(body, Shaping(False, False, frozenset())) == body


def test_lockout_backoff_doubles_up_to_fifteen_minutes() -> None:
    assert [lockout.lock_seconds(n) for n in range(1, 11)] == [0, 0, 0, 0, 60, 120, 240, 480, 900, 900]
    assert lockout.account_verdict(100, 40) == lockout.Verdict(False, 60)
    assert lockout.account_verdict(100, 100).allowed
    assert not lockout.ip_verdict(30, 910).allowed
    assert lockout.ip_verdict(29, 910).allowed


def test_audit_details_never_carry_sensitive_values() -> None:
    details = {"email": "x@example.dk", "nested": {"password": "p", "note": "from ole@example.dk"}, "role": "editor"}
    assert clean_details(details) == {"nested": {"note": "from o***@example.dk"}, "role": "editor"}
