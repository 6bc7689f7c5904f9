"""Staff over real HTTP on the local stack: the CLI bootstraps a tenant, oathtool codes log in, authors see masks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.e2e.conftest import RunningStack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("oathtool") is None, reason="apt-get install oathtool (.ci/run does)"),
]

SAMTYKKE = str(Path(sys.executable).with_name("samtykke"))
PASSWORD = "an e2e test passphrase"


def oathtool(secret: str, at: float) -> str:
    command = ["oathtool", "--totp", "-b", f"--now=@{int(at)}", secret]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def local_json(local_stack: RunningStack, tmp_path: Path) -> Path:
    path = tmp_path / "local.json"
    path.write_text(json.dumps(local_stack.info))
    return path


def cli(*args: str, stdin: str = "") -> dict[str, Any]:
    done = subprocess.run([SAMTYKKE, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_demo_owner_logs_in_and_the_session_works(api: httpx.Client) -> None:
    login = api.post("/v1/auth/login", json={"email": "owner@demo.example", "password": "local-trial-passphrase"})
    assert login.status_code == 200, login.text
    me = api.get("/v1/admin/me", headers={"Authorization": f"Bearer {login.json()['token']}"})
    assert me.json()["role"] == "owner"
    assert me.json()["tenant_id"] == "demo"
    wrong = api.post("/v1/auth/login", json={"email": "nobody@demo.example", "password": "x"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_credentials")


def test_cli_bootstraps_a_tenant_and_mfa_works_with_an_independent_totp_client(
    api: httpx.Client, local_json: Path
) -> None:
    tenant_id = f"e2e-{uuid.uuid4().hex[:8]}"
    owner_email = f"owner@{tenant_id}.example"
    # Given a tenant on the plus plan, made by the CLI straight into the stack's DynamoDB and KMS
    made = cli(
        "tenant",
        "create",
        tenant_id,
        "--name",
        "E2E ApS",
        "--plan",
        "plus",
        "--owner-email",
        owner_email,
        "--owner-password-stdin",
        "--local",
        str(local_json),
        stdin=PASSWORD + "\n",
    )
    assert made["api_key"].startswith("stk_")
    # and an editor made over HTTP with the owner key
    editor_email = f"editor@{tenant_id}.example"
    created = cli(
        "user",
        "create",
        "--email",
        editor_email,
        "--role",
        "editor",
        "--password-stdin",
        "--local",
        str(local_json),
        "--api-key",
        made["api_key"],
        stdin=PASSWORD + "\n",
    )
    assert created["role"] == "editor"

    # When the editor enrols MFA through the CLI, answering with a code from oathtool
    process = subprocess.Popen(
        [
            SAMTYKKE,
            "mfa",
            "enrol",
            "--email",
            editor_email,
            "--tenant",
            tenant_id,
            "--password-stdin",
            "--local",
            str(local_json),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(PASSWORD + "\n")
    process.stdin.flush()
    uri = ""
    while not uri:
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else ""
        if line.startswith("otpauth://"):
            uri = line.strip()
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    enrolled_at = time.time()
    process.stdin.write(oathtool(secret, enrolled_at) + "\n")
    process.stdin.flush()
    output, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert "Recovery codes" in output

    # Then a password alone is not enough, the next step's code logs in, and it works once
    missing = api.post("/v1/auth/login", json={"email": editor_email, "password": PASSWORD, "tenant_id": tenant_id})
    assert missing.json()["error"]["code"] == "mfa_required"
    code = oathtool(secret, enrolled_at + 30)
    body = {"email": editor_email, "password": PASSWORD, "tenant_id": tenant_id, "totp": code}
    ok = api.post("/v1/auth/login", json=body)
    assert ok.status_code == 200, ok.text
    replay = api.post("/v1/auth/login", json=body)
    assert (replay.status_code, replay.json()["error"]["code"]) == (401, "mfa_invalid")

    # And API keys are made and revoked over the CLI
    key = cli(
        "api-key",
        "create",
        "--role",
        "viewer",
        "--label",
        "e2e",
        "--local",
        str(local_json),
        "--api-key",
        made["api_key"],
    )
    headers = {"Authorization": f"Bearer {key['secret']}"}
    assert api.get("/v1/admin/purposes", headers=headers).status_code == 200
    revoked = cli("api-key", "revoke", key["key_id"], "--local", str(local_json), "--api-key", made["api_key"])
    assert revoked["revoked"] is True


def test_an_author_session_sees_masked_addresses_over_http(api: httpx.Client, admin_api: httpx.Client) -> None:
    email = f"author-{uuid.uuid4().hex[:8]}@demo.example"
    contact = f"person-{uuid.uuid4().hex[:8]}@example.dk"
    assert api.post("/v1/public/demo/consents", json={"email": contact, "purpose": ["sales-and-service"]}).is_success
    made = admin_api.post("/v1/admin/users", json={"email": email, "role": "author", "password": PASSWORD})
    assert made.status_code == 201, made.text
    token = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD, "tenant_id": "demo"}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/v1/admin/contacts", "/v1/admin/consent-log"):
        response = api.get(path, params={"email": contact}, headers=headers)
        assert response.status_code == 200, response.text
        assert contact not in response.text
    assert api.get("/v1/admin/contacts", params={"email": contact}, headers=headers).json()["email"] == (
        f"{contact[0]}***@example.dk"
    )
    assert api.get("/v1/admin/users", headers=headers).status_code == 403
