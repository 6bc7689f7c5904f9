"""The operator over real HTTP on the local stack: a key made with AWS credentials sets a tenant's plan, and no
tenant credential passes the operator route."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

SAMTYKKE = str(Path(sys.executable).with_name("samtykke"))
PASSWORD = "an e2e operator passphrase"


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [SAMTYKKE, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
def local_json(local_stack: RunningStack, tmp_path: Path) -> Path:
    path = tmp_path / "local.json"
    path.write_text(json.dumps(local_stack.info))
    return path


def test_the_operator_sets_a_plan_with_an_operator_key_that_no_tenant_holds(
    api: httpx.Client, local_json: Path
) -> None:
    tenant_id = f"op-{uuid.uuid4().hex[:8]}"
    owner_email = f"owner@{tenant_id}.example"
    where = ("--local", str(local_json))
    made = cli("tenant", "create", tenant_id, "--name", "Op ApS", "--plan", "plus", *where)
    owner = ("user", "create", "--email", owner_email, "--role", "owner", "--password-stdin")
    made_owner = cli(*owner, *where, "--api-key", made["api_key"], stdin=PASSWORD + "\n")
    assert made_owner["role"] == "owner"
    session = api.post("/v1/auth/login", json={"email": owner_email, "password": PASSWORD}).json()["token"]
    path = f"/v1/operator/tenants/{tenant_id}/plan"

    # The tenant's owner, by key or by session, is refused with a code that says why.
    for bearer in (made["api_key"], session):
        refused = api.put(path, json={"plan": "enterprise"}, headers={"Authorization": f"Bearer {bearer}"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "operator_credential_required")
    own = api.put(
        "/v1/admin/settings/plan", json={"plan": "enterprise"}, headers={"Authorization": f"Bearer {session}"}
    )
    assert (own.status_code, own.json()["error"]["code"]) == (403, "operator_only")

    key = cli("operator", "key", "create", "--name", "ops@e2e.example", *where)
    assert key["operator_key"].startswith("sko_")
    environment = {**os.environ, "SAMTYKKE_OPERATOR_KEY": key["operator_key"]}
    changed = cli("operator", "plan", tenant_id, "enterprise", *where, env=environment)
    assert (changed["tenant_id"], changed["plan"]) == (tenant_id, "enterprise")

    entries = api.get(
        "/v1/admin/audit", params={"action": "operator.plan_set"}, headers={"Authorization": f"Bearer {session}"}
    )
    assert entries.status_code == 200, entries.text
    (entry,) = entries.json()["entries"]
    assert entry["actor"]["type"] == "operator"
    assert entry["actor"]["id"] == "ops@e2e.example"
    assert entry["details"]["operator_key_id"] == key["key_id"]

    revoked = cli("operator", "key", "revoke", key["key_id"], *where)
    assert revoked["revoked"] is True
    stale = api.put(path, json={"plan": "basic"}, headers={"Authorization": f"Bearer {key['operator_key']}"})
    assert (stale.status_code, stale.json()["error"]["code"]) == (401, "invalid_operator_key")
