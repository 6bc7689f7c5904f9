"""The README tells the truth about what the specs declare."""

from __future__ import annotations

from pathlib import Path

import pytest

from samtykke import resources

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_it_opens_with_the_two_commands() -> None:
    opening = README[: README.index("## ")]
    assert "make run" in opening
    assert "make test" in opening


def test_the_architecture_table_names_every_function() -> None:
    missing = [spec.name for spec in resources.FUNCTIONS if f"| `{spec.name}` |" not in README]
    assert missing == []


def test_the_configuration_names_every_environment_variable() -> None:
    names = [resources.TABLE.env_var, *(q.env_var for q in resources.QUEUES), *(t.env_var for t in resources.TOPICS)]
    names += [value for key, value in vars(resources).items() if key.startswith("ENV_")]
    missing = [name for name in names if f"`{name}`" not in README]
    assert missing == []


def test_deploy_and_configuration_come_right_after_the_architecture() -> None:
    headings = [line for line in README.splitlines() if line.startswith("## ")]
    assert headings[:5] == [
        "## Quick tour",
        "## Architecture",
        "## Data model",
        "## Deploy with `cdk deploy`",
        "## Configuration",
    ]
