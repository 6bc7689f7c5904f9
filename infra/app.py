"""The CDK app's entry point (`cdk.json`: `python -m infra.app`): one stack per EU region.

cdk deploy -c region=eu-north-1
cdk deploy --all -c regions=eu-north-1,eu-central-1   # one independent stack, and copy of the data, per region
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aws_cdk import App

from infra.config import DeploymentConfig, stack_id
from infra.nag import add_guardrails
from infra.specs import ResourceSpecs
from infra.stack import SamtykkeStack


def build(app: App, environ: Mapping[str, str], specs: ResourceSpecs | None = None) -> list[SamtykkeStack]:
    """Adds one stack per configured region, and cdk-nag, to `app`. Makes no AWS calls."""
    config = DeploymentConfig.from_context(app.node.try_get_context, environ)
    stacks = [
        SamtykkeStack(app, stack_id(region), region=region, config=config, specs=specs) for region in config.regions
    ]
    add_guardrails(app)
    return stacks


def main() -> None:
    app = App()
    build(app, os.environ)
    app.synth()


if __name__ == "__main__":
    main()
