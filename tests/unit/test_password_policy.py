"""The password policy: length, a shipped list of common passwords, and nothing of the user's identity."""

from __future__ import annotations

import pytest

from samtykke.domain.passwords import WeakPassword, check_policy, common_passwords


def test_the_shipped_list_has_at_least_ten_thousand_common_passwords() -> None:
    listed = common_passwords()
    assert len(listed) >= 10_000
    assert {"password", "123456", "qwerty", "iloveyou"} <= listed


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("password1234", "password_too_common"),  # the example
        ("Password1234", "password_too_common"),
        ("qwertyuiop123", "password_too_common"),
        ("iloveyou2024!", "password_too_common"),
        ("1q2w3e4r5t6y", "password_too_common"),
        ("short", "weak_password"),
        ("aaaaaaaaaaaaaaaa", "weak_password"),
        ("eva.hansen@acme.example", "password_contains_identity"),
        ("my EVA.HANSEN passphrase", "password_contains_identity"),
        ("we love acme a/s forever", "password_contains_identity"),
        ("acmeacmeacme2026", "password_contains_identity"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_code(password: str, code: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_policy(password, email="eva.hansen@acme.example", tenant_names=("Acme A/S", "acme"))
    assert refused.value.code == code
    assert refused.value.status == 422


@pytest.mark.parametrize("password", ["correct horse battery staple", "a long enough passphrase", "Tr0ubadour&3 blue"])
def test_long_uncommon_passwords_pass(password: str) -> None:
    check_policy(password, email="eva.hansen@acme.example", tenant_names=("Acme A/S", "acme"))
