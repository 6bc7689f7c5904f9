"""The two Lambda layers every function gets, bundled on this machine without Docker (builders in infra/assets.py).

- core: the `samtykke` package, copied to `python/samtykke`, with its bytecode.
- deps: `layers/deps/requirements.txt`, pip-installed as manylinux wheels for the Lambda platform, without the
  distributions the runtime's SDK provides, with bytecode. The result is cached under `.build/deps-layer/<key>/`,
  keyed on the requirements, the target platform and the bytecode, so repeated synths reuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.assets import (
    CORE_PACKAGE,
    REPO_ROOT,
    REQUIREMENTS,
    build_core_layer,
    build_dependency_layer,
    dependency_layer_key,
    tree_hash,
)

__all__ = ["ARCHITECTURE", "REPO_ROOT", "RUNTIME", "LocalBuild", "SharedLayers", "dependency_layer_key"]

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


@jsii.implements(ILocalBundling)
class LocalBuild:
    """Runs one of infra/assets.py's builders into CDK's bundling output directory."""

    def __init__(self, build: Callable[[Path], None]) -> None:
        self._build = build

    # jsii passes the BundlingOptions positionally, while the generated ILocalBundling protocol declares them
    # as keyword arguments; both implementations accept, and ignore, either.
    def try_bundle(self, output_dir: str, *_options: Any, **_bundling_options: Any) -> bool:
        self._build(Path(output_dir))
        return True


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
                # The source and the bytecode shipped with it (infra/assets.bytecode_tag).
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=tree_hash(CORE_PACKAGE),
                bundling=BundlingOptions(image=RUNTIME.bundling_image, local=LocalBuild(build_core_layer)),
            ),
        )
        self.dependencies = self._layer(
            "Dependencies",
            "Third-party runtime dependencies from layers/deps/requirements.txt",
            lambda_.Code.from_asset(
                str(REQUIREMENTS.parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=dependency_layer_key(),
                bundling=BundlingOptions(image=RUNTIME.bundling_image, local=LocalBuild(build_dependency_layer)),
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
