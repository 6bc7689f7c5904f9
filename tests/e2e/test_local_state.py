"""Issue 20: `samtykke local --state DIR` keeps a developer's data, the outbox and the demo keys across restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from samtykke.local.state import state_file

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 30  # the stop saves the state after the consumers' last invocations (2 shared cores)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(cwd: Path, port: int, state: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Starts `samtykke local --state` (this checkout's code) and waits until it is ready; its local.json."""
    log_path = cwd / "stack.log"
    command = [str(Path(sys.executable).with_name("samtykke")), "local", "--port", str(port), "--state", str(state)]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'layers' / 'core'}{os.pathsep}{REPO}"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while "ready" not in log_path.read_text(errors="replace"):
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)
    return process, json.loads((cwd / ".samtykke" / "local.json").read_text())


def _stop(process: subprocess.Popen[bytes], cwd: Path) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0, (cwd / "stack.log").read_text()


def test_a_contact_its_consent_log_the_outbox_and_the_api_key_survive_a_restart(tmp_path: Path) -> None:
    state, port = tmp_path / "state", _free_port()

    # Given a stack started with --state, where someone signed up
    process, first = _run(tmp_path, port, state)
    try:
        api = first["api_url"]
        signed_up = httpx.post(
            f"{api}/v1/public/{first['tenant_id']}/consents",
            json={"email": "vedvarende@example.dk", "purpose": ["e-marketing"]},
            headers={"origin": api},
        )
        assert signed_up.status_code == 201, signed_up.text
        contact_id = signed_up.json()["contact_id"]
        assert httpx.post(f"{api}/_local/drain", timeout=60).status_code == 200
    finally:
        # When it stops cleanly (SIGTERM)
        _stop(process, tmp_path)
    assert state_file(state).exists()

    # And starts again with the same directory
    process, second = _run(tmp_path, port, state)
    try:
        # Then the demo tenant's API key from the first run still works, and the contact and its log are there
        assert second["admin_api_key"] == first["admin_api_key"]
        admin = httpx.Client(base_url=second["api_url"], headers={"authorization": f"Bearer {first['admin_api_key']}"})
        contact = admin.get(f"/v1/admin/contacts/{contact_id}")
        assert contact.status_code == 200, contact.text
        assert contact.json()["email"] == "vedvarende@example.dk"
        log = admin.get("/v1/admin/consent-log", params={"email": "vedvarende@example.dk"})
        assert log.status_code == 200, log.text
        assert log.json()["chain_intact"] is True
        assert [e["type"] for e in log.json()["events"]] == ["grant"]
        # And so is the confirmation mail in the outbox
        outbox = httpx.get(f"{second['api_url']}/_local/outbox", params={"to": "vedvarende@example.dk"}).json()
        assert len(outbox) == 1
        assert outbox[0]["sent_at"] is not None
        # And the stack goes on working on the loaded data
        again = admin.post(f"/v1/admin/contacts/{contact_id}/erase")
        assert again.status_code == 200, again.text
        assert httpx.post(f"{second['api_url']}/_local/drain", timeout=60).status_code == 200
    finally:
        _stop(process, tmp_path)
