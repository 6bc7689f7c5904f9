"""The e2e fixtures: one `samtykke local` per session, an HTTP client for it, and headless Chromium."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser import HOW_TO_INSTALL, system_chromium

STARTUP_TIMEOUT_SECONDS = 60
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class RunningStack:
    """A `samtykke local` subprocess: its `.samtykke/local.json` and its combined output."""

    def __init__(self, info: dict[str, Any], log_path: Path) -> None:
        self.info = info
        self.log_path = log_path

    @property
    def api_url(self) -> str:
        return str(self.info["api_url"])

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")


@contextmanager
def running_stack(cwd: Path) -> Iterator[RunningStack]:
    """`samtykke local --port 0` in `cwd`, from its ready line until the block ends."""
    log_path = cwd / "stack.log"
    command = [str(Path(sys.executable).with_name("samtykke")), "local", "--port", "0"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready_line = _wait_for_ready(process, log_path)
        info = json.loads((cwd / ".samtykke" / "local.json").read_text())
        assert info["api_url"] in ready_line
        yield RunningStack(info, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Start `samtykke local --port 0` in a fresh directory and wait for its ready line."""
    with running_stack(tmp_path_factory.mktemp("samtykke-local")) as stack:
        yield stack


def _wait_for_ready(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        ready = [line for line in log_path.read_text(errors="replace").splitlines() if "ready" in line]
        if ready:
            return ready[0]
        if process.poll() is not None:
            pytest.fail(f"samtykke local exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.1)
    pytest.fail(f"samtykke local not ready within {STARTUP_TIMEOUT_SECONDS} s:\n{log_path.read_text()}")


@pytest.fixture(autouse=True)
def no_handler_errors(local_stack: RunningStack) -> Iterator[None]:
    """A handler that raises is a bug even when the test's own assertions pass."""
    offset = local_stack.log_size()
    yield
    output = local_stack.log_since(offset)
    assert "Traceback" not in output, f"the local stack logged an exception:\n{output}"


@pytest.fixture
def api(local_stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_stack.api_url, timeout=30) as client:
        yield client


@pytest.fixture
def admin_api(local_stack: RunningStack) -> Iterator[httpx.Client]:
    """A client that carries the demo tenant's admin key."""
    headers = {"Authorization": f"Bearer {local_stack.info['admin_api_key']}"}
    with httpx.Client(base_url=local_stack.api_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """The machine's Chromium (see tests/browser.py), else the one Playwright downloaded."""
    with sync_playwright() as playwright:
        executable = system_chromium()
        if executable is None and not Path(playwright.chromium.executable_path).is_file():
            pytest.fail(HOW_TO_INSTALL)
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()
