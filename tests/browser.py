"""Finds the Chromium that the e2e tests drive, and gets one where none is found; `make test` runs it first.

`python3 -m tests.browser [VENV_PYTHON]` uses only the standard library, so it runs before anything is installed:
1. a Chromium already here: `$CHROMIUM`, a chromium or chrome on the PATH, the macOS app, or Playwright's own;
2. else, as root on Debian or Ubuntu, `apt-get install chromium` (and oathtool, for the MFA tests, whenever missing);
3. else Playwright's own download (`playwright install chromium`), where the network allows;
4. else it stops with one line saying what to install, and exits 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ENV_OVERRIDE = "CHROMIUM"
EXECUTABLE_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MACOS_APPS = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
APT_PACKAGES = ("chromium", "oathtool")
DOWNLOAD_TIMEOUT_SECONDS = 600
HOW_TO_INSTALL = (
    "make test needs Chromium for the e2e tests and found none: install it (Debian: sudo apt-get install chromium;"
    " Ubuntu: sudo .venv/bin/playwright install --with-deps chromium; macOS: brew install --cask chromium),"
    f" or set {ENV_OVERRIDE}=/path/to/chromium"
)


def system_chromium() -> str | None:
    """A Chromium or Chrome installed on this machine, or None."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in EXECUTABLE_NAMES:
        found = shutil.which(name)
        if found and not _is_snap_shim(found):
            return found
    return next((app for app in MACOS_APPS if os.access(app, os.X_OK)), None)


def playwright_chromium(python: str) -> str | None:
    """The Chromium that Playwright downloaded for `python`'s playwright package, if it is there."""
    script = (
        "from playwright.sync_api import sync_playwright\n"
        "with sync_playwright() as p: print(p.chromium.executable_path)"
    )
    try:
        result = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = result.stdout.strip()
    return path if result.returncode == 0 and path and os.access(path, os.X_OK) else None


def ensure_chromium(python: str) -> str | None:
    """The path of a usable Chromium, getting one first if needed; None when there is no way to get one."""
    found = system_chromium() or playwright_chromium(python)
    if found:
        return found
    if _apt_install():
        found = system_chromium()
        if found:
            return found
    if _playwright_download(python):
        return playwright_chromium(python)
    return None


def _is_snap_shim(path: str) -> bool:
    """Ubuntu's `chromium-browser` deb only points at the snap, which containers and CI cannot run."""
    resolved = Path(path).resolve()
    if resolved.parts[:3] == ("/", "snap", "bin"):
        return True
    with resolved.open("rb") as executable:
        head = executable.read(4096)
    return head.startswith(b"#!") and b"/snap/" in head


def _apt_install(packages: tuple[str, ...] = APT_PACKAGES) -> bool:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    print(f"make test: installing {' and '.join(packages)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "env": env, "check": False}
    subprocess.run(["apt-get", "update", "-qq"], **quiet)
    return subprocess.run(["apt-get", "install", "-y", "-qq", *packages], **quiet).returncode == 0


def _playwright_download(python: str) -> bool:
    print("make test: no Chromium here; trying Playwright's download (playwright install chromium)", flush=True)
    command = [python, "-m", "playwright", "install", "chromium"]
    if os.name == "posix" and os.geteuid() == 0 and sys.platform.startswith("linux"):
        command.insert(-1, "--with-deps")  # the browser's shared libraries, through apt
    try:
        result = subprocess.run(command, capture_output=True, timeout=DOWNLOAD_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def main(argv: list[str]) -> int:
    python = argv[0] if argv else sys.executable
    found = ensure_chromium(python)
    if found is None:
        print(HOW_TO_INSTALL, file=sys.stderr)
        return 1
    print(f"make test: Chromium at {found}")
    if shutil.which("oathtool") is None and not _apt_install(("oathtool",)):
        print("make test: no oathtool, so the MFA tests that use it are skipped (apt-get install oathtool)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
