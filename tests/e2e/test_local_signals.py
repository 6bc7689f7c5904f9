"""Issue 20: `samtykke local` stops cleanly on SIGTERM within 5 s, when ready and while it is still starting."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STOP_WITHIN_SECONDS = 5.0
STARTUP_TIMEOUT_SECONDS = 90


def _start(cwd: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = cwd / "stack.log"
    command = [str(Path(sys.executable).with_name("samtykke")), "local", "--port", "0"]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT), log_path


def _stopped_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
    return True


def test_sigterm_stops_a_ready_stack_within_five_seconds(tmp_path: Path) -> None:
    process, log_path = _start(tmp_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while "ready" not in log_path.read_text(errors="replace"):
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)

    process.send_signal(signal.SIGTERM)

    assert _stopped_within(process, STOP_WITHIN_SECONDS), log_path.read_text()
    assert process.returncode == 0, log_path.read_text()
    assert not (tmp_path / ".samtykke" / "local.json").exists()


def test_sigterm_while_starting_up_stops_it_too(tmp_path: Path) -> None:
    process, log_path = _start(tmp_path)
    time.sleep(3)  # importing and provisioning: long before the ready line
    assert "ready" not in log_path.read_text(errors="replace")

    process.send_signal(signal.SIGTERM)

    assert _stopped_within(process, STOP_WITHIN_SECONDS), log_path.read_text()
    assert process.returncode == 0, log_path.read_text()
