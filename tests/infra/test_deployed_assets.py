"""The assets the synth builds, imported as Lambda imports them: a missing module, a dependency that shadows the
runtime's SDK, a module shipped without bytecode, or a function that loads routes it does not serve fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.assets import (
    RUNTIME_PROVIDED,
    bytecode_tag,
    cached_dependency_layer,
    host_platform,
    openapi_json,
    runtime_sdk,
    target_python,
    top_level_names,
)
from samtykke.environment import ENV_ROUTERS
from tests.deployed import DEPLOYED, DeployedTree, run_as_deployed
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

# Printed by the clean interpreter after `import handler`: where each module came from, and the collector's state.
_INSPECT = """
import gc, importlib.util, json, os, sys
import handler
roots = sys.path[:4]
stdlib = sys.base_prefix
files = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
print(json.dumps({
    "sdk": {name: files[name] for name in ("boto3", "botocore", "urllib3", "dateutil", "jmespath", "six", "s3transfer")
            if name in files},
    "outside": sorted(n for n, f in files.items() if f and not f.startswith((*roots, stdlib))),
    "without_bytecode": sorted(
        n for n, f in files.items()
        if f and f.endswith(".py") and f.startswith(tuple(roots[:3]))
        and not os.path.exists(importlib.util.cache_from_source(f))
    ),
    "routers": sorted(n for n in files if n.startswith("samtykke.api.routes.")),
    "gc_enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""
_SDK_MODULES = {"boto3", "botocore", "urllib3", "dateutil", "jmespath", "six", "s3transfer"}


def _asset(synth: Synth, s3_key: dict[str, Any] | str) -> Path:
    assert isinstance(s3_key, str)
    return synth.outdir / f"asset.{s3_key.removesuffix('.zip')}"


@pytest.fixture(scope="module")
def tree(synth: Synth, real: Template) -> DeployedTree:
    """The synth's function and core-layer assets; the dependency layer as the synth builds it, for this CPU."""
    functions = {
        fn["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: _asset(
            synth, fn["Properties"]["Code"]["S3Key"]
        )
        for fn in real.find_resources("AWS::Lambda::Function").values()
        if "POWERTOOLS_SERVICE_NAME" in fn["Properties"].get("Environment", {}).get("Variables", {})
    }
    layers = real.find_resources("AWS::Lambda::LayerVersion")
    (core,) = (_asset(synth, v["Properties"]["Content"]["S3Key"]) for k, v in layers.items() if "Core" in k)
    return DeployedTree(
        functions=functions,
        core=core / "python",
        dependencies=cached_dependency_layer(pip_platform=host_platform()),
        runtime=runtime_sdk(),
    )


def test_every_deployed_function_has_a_built_asset(tree: DeployedTree) -> None:
    assert set(tree.functions) == set(DEPLOYED)


def test_every_module_ships_bytecode_for_the_target_python(tree: DeployedTree) -> None:
    roots = [tree.core, *set(tree.functions.values()), tree.dependencies]
    sources = [p for root in roots for p in root.rglob("*.py")]
    assert sources
    missing = []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        if target_python() is None:
            assert not compiled.exists(), "no 3.13 here, yet bytecode was shipped"
            continue
        if not compiled.is_file():
            missing.append(str(source))
            continue
        # PEP 552: the flags word after the magic number; 0b01 is hash-based and never checked against the source.
        assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 0b01, compiled
    assert not missing, missing[:10]
    assert bytecode_tag() == ("source-only" if target_python() is None else "cpython-313-unchecked-hash")


def test_dependency_layer_leaves_the_runtime_sdk_to_the_runtime(tree: DeployedTree) -> None:
    ours = top_level_names(tree.dependencies)
    runtime = top_level_names(tree.runtime)
    assert not set(ours) & {name.replace("_", "-") for name in RUNTIME_PROVIDED}
    assert set(runtime) >= {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "jmespath", "six"}
    shadowing = {top for tops in ours.values() for top in tops} & {top for tops in runtime.values() for top in tops}
    assert not shadowing


@pytest.mark.parametrize("function", sorted(DEPLOYED))
def test_handler_imports_from_the_assets_alone(tree: DeployedTree, function: str) -> None:
    # Given only the function's asset, both layers and the runtime's boto3 on the path, in Lambda's environment
    loaded = run_as_deployed(tree, function, _INSPECT)

    # Then nothing came from anywhere else, the SDK came from the runtime, and every module of ours had bytecode
    assert loaded["outside"] == []
    for module, file in loaded["sdk"].items():
        assert module in _SDK_MODULES
        assert file.startswith(str(tree.runtime)), (module, file)
    if target_python() is not None:
        assert loaded["without_bytecode"] == []
    # The import ran with the collector paused and left its objects frozen
    assert loaded["gc_enabled"] is True
    assert loaded["frozen"] > 10_000
    # A function split off by its routers loads only its own router; admin_api only the routers it keeps
    spec = DEPLOYED[function]
    if ENV_ROUTERS in spec.environment:
        expected = sorted(f"samtykke.api.routes.{name}" for name in spec.environment[ENV_ROUTERS].split(",") if name)
        assert loaded["routers"] == expected


def test_openapi_document_is_built_from_the_live_routers(tree: DeployedTree) -> None:
    # Given the openapi function as deployed, When it answers, Then it serves the document the live routers make
    served = run_as_deployed(
        tree, "openapi", "import json, handler\nprint(json.dumps(handler.lambda_handler({}, None)))"
    )
    assert served["statusCode"] == 200
    assert json.loads(served["body"]) == json.loads(openapi_json())
    assert (tree.functions["openapi"] / "openapi.json").is_file()
    # And it never built a router to do so
    routers = run_as_deployed(
        tree,
        "openapi",
        "import json, sys, handler\nhandler.lambda_handler({}, None)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith(('samtykke.api', 'pydantic')))))",
    )
    assert routers == []
