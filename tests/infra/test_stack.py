"""Stack-wide properties: termination protection, no lookups, tags."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import Synth
from tests.infra.synthetic import REAL_STACK

pytestmark = pytest.mark.infra


def test_the_stack_is_termination_protected_and_pinned_to_its_region(synth: Synth) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    stack = manifest["artifacts"][REAL_STACK]
    assert stack["properties"]["terminationProtection"] is True
    assert stack["environment"] == "aws://unknown-account/eu-north-1"


def test_synth_needs_no_aws_lookups(synth: Synth) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    assert "missing" not in manifest, "a context lookup would make `cdk synth` call AWS"
    assert not (synth.outdir.parent / "cdk.context.json").exists()
