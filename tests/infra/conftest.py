"""Synthesizes the CDK app once per session: the real stack, plus one built from synthetic specs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner about Node 20's end of life on every import; it is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build
from infra.config import DeploymentConfig
from infra.specs import ResourceSpecs
from infra.stack import SamtykkeStack
from tests.infra.synthetic import (
    REAL_STACK,
    SYNTHETIC_CONTEXT,
    SYNTHETIC_SPECS,
    SYNTHETIC_STACK,
    cdk_json_context,
)


@dataclass(frozen=True)
class Synth:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # by stack name, as written to cdk.out

    def template(self, stack: str) -> Template:
        return Template.from_json(self.templates[stack])


def _handler_folders(root: Path, specs: ResourceSpecs) -> Path:
    for spec in specs.functions:
        folder = root / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "handler.py").write_text("def lambda_handler(event, context):\n    return None\n")
    return root


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=cdk_json_context())
    build(app, environ={})
    SamtykkeStack(
        app,
        SYNTHETIC_STACK,
        region="eu-west-1",
        config=DeploymentConfig.from_context(SYNTHETIC_CONTEXT.get, environ={}),
        specs=SYNTHETIC_SPECS,
        functions_dir=_handler_folders(tmp_path_factory.mktemp("functions"), SYNTHETIC_SPECS),
    )
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    return Synth(outdir=outdir, templates=templates)


@pytest.fixture(scope="session")
def real(synth: Synth) -> Template:
    """The stack `cdk synth` makes from samtykke.resources with the default context."""
    return synth.template(REAL_STACK)


@pytest.fixture(scope="session")
def synthetic(synth: Synth) -> Template:
    """The stack made from SYNTHETIC_SPECS and SYNTHETIC_CONTEXT."""
    return synth.template(SYNTHETIC_STACK)
