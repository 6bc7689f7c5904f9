"""The README and the pages in docs/ tell the truth about what the specs declare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from samtykke import resources

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()


def test_it_opens_with_the_two_commands() -> None:
    opening = README[: README.index("## ")]
    assert "make run" in opening
    assert "make test" in opening


def test_the_architecture_table_names_every_function() -> None:
    missing = [spec.name for spec in resources.FUNCTIONS if f"| `{spec.name}` |" not in ARCHITECTURE]
    assert missing == []


def test_the_configuration_names_every_environment_variable() -> None:
    names = [resources.TABLE.env_var, *(q.env_var for q in resources.QUEUES), *(t.env_var for t in resources.TOPICS)]
    names += [value for key, value in vars(resources).items() if key.startswith("ENV_")]
    missing = [name for name in names if f"`{name}`" not in CONFIGURATION]
    assert missing == []


def test_every_docs_link_in_the_readme_resolves() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", README)
    assert links
    assert [link for link in links if not (ROOT / link).is_file()] == []
