"""The README's tour, then the tenant set-up walkthrough, pasted as they stand: every shell block, in order, against
a fresh local stack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack, running_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOUR = re.compile(r"<!-- section:tour -->(.*?)<!-- /section:tour -->", re.DOTALL)
SHELL_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
SETUP = "docs/setup-tenant.md"
BLOCK_TIMEOUT_SECONDS = 120


def walkthrough_blocks() -> list[str]:
    """The README's tour, then every shell block of docs/setup-tenant.md."""
    return tour_blocks((ROOT / "README.md").read_text()) + SHELL_BLOCK.findall((ROOT / SETUP).read_text())


def tour_blocks(markdown: str) -> list[str]:
    section = TOUR.search(markdown)
    assert section, "README.md has no <!-- section:tour --> … <!-- /section:tour -->"
    return SHELL_BLOCK.findall(section.group(1))


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own, so the tour meets the demo tenant as a newcomer does; `.venv` as in a clone."""
    cwd = tmp_path_factory.mktemp("readme-tour")
    (cwd / ".venv").symlink_to(ROOT / ".venv")
    with running_stack(cwd) as stack:
        yield stack


def test_the_tour_has_shell_blocks() -> None:
    blocks = tour_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 5
    assert any("samtykke outbox" in block for block in blocks)


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None, reason="the tour needs curl and jq")
def test_every_tour_block_runs_as_pasted(fresh_stack: RunningStack) -> None:
    cwd = fresh_stack.log_path.parent
    env = {name: value for name, value in os.environ.items() if name not in ("API", "KEY", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    script = ["set -euo pipefail"]
    for number, block in enumerate(walkthrough_blocks(), start=1):
        script += [f"echo '>>> block {number}' >&2", block]
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_SECONDS * 4,
        check=False,
    )
    assert result.returncode == 0, f"the tour failed:\n{result.stderr[-4000:]}\n{result.stdout[-2000:]}"
    assert '"withdrawn": 1' in result.stdout  # the tour's dry run shows Anna left out, and why
    assert '"purpose": "member-newsletter"' in result.stdout  # the form took the purpose made minutes before
