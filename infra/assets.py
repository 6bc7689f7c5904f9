"""What Lambda runs: the function folders and the two layers, built as plain directories, with no CDK involved.

The CDK bundlers (`infra/constructs/layers.py`, `function.py`) call these builders, and so do the test that imports
every handler from the built assets and the benchmark's as-deployed cold start: all three see the same files.

Bytecode. Lambda's /var/task and /opt are read-only, so CPython cannot cache the bytecode it compiles: a module
without a usable `.pyc` is compiled again on every cold start. CDK zips assets with every timestamp set to 1980,
which makes a timestamp-checked `.pyc` stale on arrival. So every asset ships `unchecked-hash` bytecode, which the
interpreter loads without looking at the source, compiled by the target interpreter (CPython 3.13): a `.pyc` is
specific to its minor version. The target interpreter is `$SAMTYKKE_TARGET_PYTHON`, else `python3.13` on the PATH,
else a pyenv 3.13. Without one, the assets ship source only, and the build says so on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CORE_PACKAGE = REPO_ROOT / "layers" / "core" / "samtykke"
REQUIREMENTS = REPO_ROOT / "layers" / "deps" / "requirements.txt"
BUILD_DIR = REPO_ROOT / ".build"

TARGET_PYTHON_VERSION = (3, 13)
TARGET_PYTHON_ENV = "SAMTYKKE_TARGET_PYTHON"
# Where Lambda puts each kind of asset; compiled code records these paths, so tracebacks name the deployed files.
TASK_ROOT = "/var/task"
LAYER_ROOT = "/opt/python"

# Distributions the Lambda runtime already ships with its boto3. A copy in the layer would come before the
# runtime's on sys.path and run the SDK against dependencies of other versions than it was released with, so they
# are removed after pip has pulled them in as dependencies (powertools needs jmespath; the X-Ray SDK botocore).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "jmespath", "six"})
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


@dataclass(frozen=True)
class PipPlatform:
    """The wheels pip may pick: one CPython on one CPU's manylinux (Amazon Linux 2023 has glibc 2.34)."""

    machine: str  # aarch64 for Lambda's arm64; the host's for tests that import the layer here
    python_version: tuple[int, int] = TARGET_PYTHON_VERSION

    @property
    def args(self) -> tuple[str, ...]:
        major, minor = self.python_version
        tags = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
        return (
            "--implementation=cp",
            f"--python-version={major}.{minor}",
            f"--abi=cp{major}{minor}",
            *(f"--platform={tag}_{self.machine}" for tag in tags),
            "--only-binary=:all:",
        )


LAMBDA_PLATFORM = PipPlatform("aarch64")


def host_platform() -> PipPlatform:
    """This machine, for the interpreter that imports the assets here: the target's, or this one without it."""
    version = TARGET_PYTHON_VERSION if target_python() else (sys.version_info.major, sys.version_info.minor)
    return PipPlatform(platform.machine(), version)


def host_interpreter() -> str:
    """The interpreter that runs the built assets on this machine: the target's if there is one."""
    return target_python() or sys.executable


# ----------------------------------------------------------------------------------------------------- bytecode


@cache
def target_python() -> str | None:
    """A CPython 3.13 executable, or None: the environment variable, the PATH, then pyenv's versions."""
    candidates: list[str] = []
    if os.environ.get(TARGET_PYTHON_ENV):
        candidates.append(os.environ[TARGET_PYTHON_ENV])
    on_path = shutil.which("python{}.{}".format(*TARGET_PYTHON_VERSION))
    if on_path:
        candidates.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pattern = "{}.{}.*".format(*TARGET_PYTHON_VERSION)
    candidates += [str(p / "bin" / "python3") for p in sorted((pyenv_root / "versions").glob(pattern), reverse=True)]
    for candidate in candidates:
        if _version_of(candidate) == TARGET_PYTHON_VERSION:
            return candidate
    return None


def _version_of(executable: str) -> tuple[int, int] | None:
    try:
        completed = subprocess.run(  # noqa: S603
            [executable, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    name, major, minor = completed.stdout.split()
    return (int(major), int(minor)) if name == "cpython" else None


def bytecode_tag() -> str:
    """What the assets ship, for cache keys and asset hashes: `cpython-313-unchecked-hash` or `source-only`."""
    if target_python() is None:
        return "source-only"
    return "cpython-{}{}-unchecked-hash".format(*TARGET_PYTHON_VERSION)


def compile_bytecode(tree: Path, deployed_at: str) -> None:
    """Compiles every module under `tree` with the target interpreter, as if `tree` were at `deployed_at`."""
    python = target_python()
    if python is None:
        _warn_once()
        return
    command = [
        python,
        "-m",
        "compileall",
        "-q",
        "-j0",
        "--invalidation-mode=unchecked-hash",
        f"-s{tree}",
        f"-p{deployed_at}",
        str(tree),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise RuntimeError(f"compiling {tree} failed:\n{completed.stdout}\n{completed.stderr}")


@cache
def _warn_once() -> None:
    print(
        "samtykke: no CPython {}.{} found (set ${} or put python{}.{} on the PATH); the Lambda assets ship "
        "WITHOUT bytecode, so every cold start compiles every module.".format(
            *TARGET_PYTHON_VERSION, TARGET_PYTHON_ENV, *TARGET_PYTHON_VERSION
        ),
        file=sys.stderr,
    )


# ------------------------------------------------------------------------------------------------------- assets


def tree_hash(tree: Path, *extra: str) -> str:
    """A digest of a source tree (bytecode excluded) and of how it is built, for CDK's custom asset hash."""
    digest = hashlib.sha256("\0".join((bytecode_tag(), *extra)).encode())
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(tree).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def openapi_json() -> bytes:
    """The OpenAPI document of every router, as `GET /openapi.json` serves it."""
    from samtykke.api.openapi import openapi_document

    return json.dumps(openapi_document(), separators=(",", ":"), sort_keys=True).encode()


# Files a function's asset gets besides its folder, made at build time from the live code (by folder name).
GENERATED: dict[str, dict[str, Callable[[], bytes]]] = {"openapi": {"openapi.json": openapi_json}}


def function_hash(source: Path) -> str:
    """The asset hash of a function: its folder, what is generated into it, and the bytecode kind."""
    generated = GENERATED.get(source.name, {})
    return tree_hash(source, *(f"{name}:{hashlib.sha256(make()).hexdigest()}" for name, make in generated.items()))


def build_function(source: Path, output: Path) -> None:
    """A function folder as Lambda's /var/task: its files, the files generated for it, and their bytecode."""
    shutil.copytree(source, output, ignore=_IGNORED, dirs_exist_ok=True)
    for name, make in GENERATED.get(source.name, {}).items():
        (output / name).write_bytes(make())
    compile_bytecode(output, TASK_ROOT)


def build_core_layer(output: Path, package: Path = CORE_PACKAGE) -> None:
    """The core layer: the samtykke package under `python/`, with its bytecode."""
    shutil.copytree(package, output / "python" / package.name, ignore=_IGNORED, dirs_exist_ok=True)
    compile_bytecode(output / "python", LAYER_ROOT)


def dependency_layer_key(requirements: Path = REQUIREMENTS, pip_platform: PipPlatform = LAMBDA_PLATFORM) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(" ".join((*pip_platform.args, *sorted(RUNTIME_PROVIDED), bytecode_tag())).encode())
    return digest.hexdigest()[:32]


def build_dependency_layer(
    output: Path, requirements: Path = REQUIREMENTS, pip_platform: PipPlatform = LAMBDA_PLATFORM
) -> None:
    """The dependency layer under `output/python`, through a cache in `.build/deps-layer/<key>`."""
    cached = cached_dependency_layer(requirements, pip_platform)
    shutil.copytree(cached, output / "python", copy_function=_link_or_copy, dirs_exist_ok=True)


def cached_dependency_layer(requirements: Path = REQUIREMENTS, pip_platform: PipPlatform = LAMBDA_PLATFORM) -> Path:
    """requirements.txt pip-installed for `pip_platform`, without the runtime's SDK, compiled; built once per key."""
    cached = BUILD_DIR / "deps-layer" / dependency_layer_key(requirements, pip_platform)
    if not cached.is_dir():
        _build_once(cached, lambda staging: _install_dependencies(staging, requirements, pip_platform))
    return cached


def runtime_sdk(version: str | None = None) -> Path:
    """The runtime's boto3 (by default the version this venv tests against), as Lambda's /var/runtime holds it."""
    version = version or metadata.version("boto3")
    cached = BUILD_DIR / "runtime-sdk" / f"boto3-{version}-{bytecode_tag()}"
    if not cached.is_dir():

        def install(staging: Path) -> None:
            _pip_install(staging, [f"boto3=={version}"], host_platform())
            compile_bytecode(staging, "/var/runtime")

        _build_once(cached, install)
    return cached


def _install_dependencies(target: Path, requirements: Path, pip_platform: PipPlatform) -> None:
    _pip_install(target, [f"--requirement={requirements}"], pip_platform)
    remove_distributions(target, RUNTIME_PROVIDED)
    compile_bytecode(target, LAYER_ROOT)


def _build_once(cached: Path, build: Callable[[Path], None]) -> None:
    """Builds beside the cache entry and renames it into place, so that an interrupted or concurrent build never
    leaves a half-built directory behind."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{cached.name}.", dir=cached.parent))
    try:
        build(staging)
        try:
            staging.rename(cached)
        except OSError:
            if not cached.is_dir():  # another build may have won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pip_install(target: Path, what: Sequence[str], pip_platform: PipPlatform) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--no-compile",  # compile_bytecode compiles for the target interpreter, not this one
        "--disable-pip-version-check",
        *pip_platform.args,
        f"--target={target}",
        *what,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(what)} failed:\n{result.stdout}\n{result.stderr}")


def remove_distributions(site_dir: Path, names: Iterable[str]) -> None:
    """Uninstall distributions from a `pip --target` directory, file by file from their RECORD."""
    wanted = {_normalise(name) for name in names}
    for distribution in metadata.distributions(path=[str(site_dir)]):
        if _normalise(distribution.metadata["Name"]) not in wanted:
            continue
        files = [site_dir / file for file in distribution.files or ()]
        for file in files:
            file.unlink(missing_ok=True)
        # Then the directories those files leave empty, deepest first.
        directories = {parent for file in files for parent in file.parents if parent.is_relative_to(site_dir)}
        for directory in sorted(directories - {site_dir}, key=lambda d: len(d.parts), reverse=True):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()


def top_level_names(site_dir: Path) -> dict[str, set[str]]:
    """Each distribution in `site_dir` (by normalised name) and the top-level modules its RECORD installs."""
    names: dict[str, set[str]] = {}
    for distribution in metadata.distributions(path=[str(site_dir)]):
        tops = {Path(str(file)).parts[0].removesuffix(".py") for file in distribution.files or ()}
        names[_normalise(distribution.metadata["Name"])] = {
            top for top in tops if not top.endswith((".dist-info", ".data")) and top not in {"..", "__pycache__"}
        }
    return names


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _link_or_copy(source: str, destination: str) -> None:
    """Hard-link a cached file into the asset (cheap); copy when the two are on different filesystems."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
