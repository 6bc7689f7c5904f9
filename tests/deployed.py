"""Running handlers as Lambda runs them: from the built assets, in a clean interpreter, with Lambda's environment.

Lambda puts the function's folder at /var/task, both layers at /opt/python and its own boto3 at /var/runtime, in
that order on sys.path. Here the same files (infra/assets.py builds them, as the CDK bundlers do) sit in four
directories, in the same order, and nothing else is importable but the interpreter's standard library (`-I -S`).
The dependency layer is built for this machine's CPU (an aarch64 `pydantic_core` cannot load on x86_64); on an
arm64 host it is the synth's very layer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.assets import (
    BUILD_DIR,
    build_core_layer,
    build_function,
    cached_dependency_layer,
    host_interpreter,
    host_platform,
    runtime_sdk,
)
from infra.specs import ResourceSpecs
from samtykke import resources
from samtykke.resources import FunctionSpec

FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"
# Every function as deployed, the ones split off admin_api by its routers included.
DEPLOYED: dict[str, FunctionSpec] = {spec.name: spec for spec in ResourceSpecs().deployed_functions}
REGION = "eu-north-1"


@dataclass(frozen=True)
class DeployedTree:
    functions: dict[str, Path]  # each function's built folder, as its /var/task
    core: Path  # the core layer's python/
    dependencies: Path  # the dependency layer's python/
    runtime: Path  # the runtime's boto3, as /var/runtime

    def sys_path(self, function: str) -> list[str]:
        return [str(self.functions[function]), str(self.dependencies), str(self.core), str(self.runtime)]


def build_tree(root: Path = BUILD_DIR / "deployed") -> DeployedTree:
    """Builds every function and the core layer afresh under `root`; the dependency layer and SDK come cached."""
    shutil.rmtree(root, ignore_errors=True)
    functions = {name: root / "functions" / spec.folder for name, spec in DEPLOYED.items()}
    for folder in set(functions.values()):
        build_function(FUNCTIONS_DIR / folder.name, folder)
    build_core_layer(root / "core")
    return DeployedTree(
        functions=functions,
        core=root / "core" / "python",
        dependencies=cached_dependency_layer(pip_platform=host_platform()),
        runtime=runtime_sdk(),
    )


def lambda_environment(function: str) -> dict[str, str]:
    """What Lambda sets for a function of ours before its first import (names of the CDK app's variables)."""
    spec = DEPLOYED[function]
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": f"samtykke-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "handler.lambda_handler",
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "example-secret",
        "AWS_SESSION_TOKEN": "example-token",
        "POWERTOOLS_SERVICE_NAME": function,
        "POWERTOOLS_METRICS_NAMESPACE": "samtykke",
        "LOG_LEVEL": "INFO",
        resources.ENV_STAGE: "prod",
        resources.ENV_TABLE: "samtykke-ConsentTable",
        resources.ENV_KMS_KEY_ID: "alias/samtykke",
        resources.ENV_PUBLIC_BASE_URL: "https://consent.example.com",
        resources.ENV_SENDER_EMAIL: "no-reply@example.com",
    }
    return environment | spec.environment


def run_as_deployed(
    tree: DeployedTree,
    function: str,
    code: str,
    *,
    importtime: bool = False,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Runs `code` in a fresh interpreter laid out as `function`'s Lambda container; `code` prints one JSON line.
    `environment` overrides Lambda's variables (e.g. the endpoint and names of a local stack)."""
    prologue = f"import sys; sys.path[:0] = {tree.sys_path(function)!r}\n"
    completed = subprocess.run(
        [host_interpreter(), "-I", "-S", *(["-X", "importtime"] if importtime else []), "-c", prologue + code],
        capture_output=True,
        text=True,
        check=False,
        env=lambda_environment(function) | (environment or {}),
        cwd="/",
    )
    if completed.returncode != 0:
        raise AssertionError(f"{function}: {completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    if importtime:
        result["importtime_stderr"] = completed.stderr
    return result
