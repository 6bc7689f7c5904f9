"""The two Lambda layers every function gets, bundled on this machine without Docker.

- core: the `samtykke` package, copied to `python/samtykke`.
- deps: `layers/deps/requirements.txt`, pip-installed as manylinux wheels for the Lambda platform. The
  result is cached under `.build/deps-layer/<key>/`, keyed on the requirements and the target platform, so
  repeated synths reuse it and only a changed requirements.txt downloads again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parents[2]
CORE_PACKAGE = REPO_ROOT / "layers" / "core" / "samtykke"
REQUIREMENTS = REPO_ROOT / "layers" / "deps" / "requirements.txt"
BUILD_CACHE = REPO_ROOT / ".build" / "deps-layer"

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
# pip's view of that platform: CPython 3.13 on aarch64 glibc (Amazon Linux 2023 has glibc 2.34).
_PIP_PLATFORM_ARGS = (
    "--implementation=cp",
    "--python-version=3.13",
    "--abi=cp313",
    "--platform=manylinux2014_aarch64",
    "--platform=manylinux_2_28_aarch64",
    "--platform=manylinux_2_34_aarch64",
    "--only-binary=:all:",
)
# Distributions the Lambda runtime already ships. A copy in the layer would shadow the runtime's own boto3
# with a botocore of another version, so they are removed after pip has pulled them in as dependencies.
_RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def dependency_layer_key(requirements: Path = REQUIREMENTS) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(" ".join(_PIP_PLATFORM_ARGS).encode())
    return digest.hexdigest()[:32]


def _link_or_copy(source: str, destination: str) -> None:
    """Hard-link a cached file into the asset (cheap); copy when the two are on different filesystems."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


@jsii.implements(ILocalBundling)
class _PythonPackageBundling:
    """Copies one package to `python/<package>`, where the Lambda runtime looks for layer code."""

    def __init__(self, package_dir: Path) -> None:
        self._package_dir = package_dir

    # jsii passes the BundlingOptions positionally, while the generated ILocalBundling protocol declares them
    # as keyword arguments; both implementations accept, and ignore, either.
    def try_bundle(self, output_dir: str, *_options: Any, **_bundling_options: Any) -> bool:
        shutil.copytree(self._package_dir, Path(output_dir) / "python" / self._package_dir.name, ignore=_IGNORED)
        return True


@jsii.implements(ILocalBundling)
class _PipRequirementsBundling:
    """Installs requirements.txt for the Lambda platform into `python/`, through the `.build/` cache."""

    def __init__(self, requirements: Path, cache_dir: Path) -> None:
        self._requirements = requirements
        self._cached = cache_dir / dependency_layer_key(requirements)

    def try_bundle(self, output_dir: str, *_options: Any, **_bundling_options: Any) -> bool:
        if not self._cached.is_dir():
            self._build()
        shutil.copytree(self._cached, Path(output_dir) / "python", copy_function=_link_or_copy, dirs_exist_ok=True)
        return True

    def _build(self) -> None:
        self._cached.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the cache entry and rename it into place, so an interrupted or concurrent synth
        # never leaves a half-installed layer behind.
        staging = Path(tempfile.mkdtemp(prefix=f"{self._cached.name}.", dir=self._cached.parent))
        try:
            self._pip_install(staging)
            _remove_distributions(staging, _RUNTIME_PROVIDED)
            try:
                staging.rename(self._cached)
            except OSError:
                if not self._cached.is_dir():  # another synth may have won the race
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _pip_install(self, target: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "--no-compile",
            "--disable-pip-version-check",
            *_PIP_PLATFORM_ARGS,
            f"--target={target}",
            f"--requirement={self._requirements}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(f"building the dependency layer failed:\n{result.stdout}\n{result.stderr}")


def _remove_distributions(site_dir: Path, names: frozenset[str]) -> None:
    """Uninstall distributions from a `pip --target` directory, file by file from their RECORD."""
    for distribution in metadata.distributions(path=[str(site_dir)]):
        if distribution.metadata["Name"].lower() not in names:
            continue
        files = [site_dir / file for file in distribution.files or ()]
        for file in files:
            file.unlink(missing_ok=True)
        # Then the directories those files leave empty, deepest first.
        directories = {parent for file in files for parent in file.parents if parent.is_relative_to(site_dir)}
        for directory in sorted(directories - {site_dir}, key=lambda d: len(d.parts), reverse=True):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()


class SharedLayers(Construct):
    """The core package layer and the third-party dependencies layer."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.core = self._layer(
            "Core",
            "The samtykke package shared by every function",
            lambda_.Code.from_asset(
                str(CORE_PACKAGE.parent),
                exclude=["**/__pycache__", "**/*.pyc"],
                bundling=BundlingOptions(image=RUNTIME.bundling_image, local=_PythonPackageBundling(CORE_PACKAGE)),
            ),
        )
        self.dependencies = self._layer(
            "Dependencies",
            "Third-party runtime dependencies from layers/deps/requirements.txt",
            lambda_.Code.from_asset(
                str(REQUIREMENTS.parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=dependency_layer_key(),
                bundling=BundlingOptions(
                    image=RUNTIME.bundling_image, local=_PipRequirementsBundling(REQUIREMENTS, BUILD_CACHE)
                ),
            ),
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.core]

    def _layer(self, construct_id: str, description: str, code: lambda_.Code) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=code,
            description=description,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            # Old layer versions stay, so a rollback can still find the layer its functions point at.
            removal_policy=RemovalPolicy.RETAIN,
        )
