"""samtykke.coldstart: powertools' re-exporting packages import only the names asked for, and give the same objects.

Each check runs in a fresh interpreter: this process imported powertools long before it could import the module.
"""

from __future__ import annotations

from samtykke.coldstart import REEXPORTING_PACKAGES

import json
import subprocess
import sys
from typing import Any

# Each package's re-exported names (its `__all__`, or those of argv[1]) as the `module.name` of what they are.
_NAMES = """
import importlib, json, sys
asked = json.loads(sys.argv[1])
names = {}
for package in asked:
    module = importlib.import_module(package)
    objects = {name: getattr(module, name) for name in asked[package] or module.__all__}
    names[package] = {name: f"{value.__module__}.{value.__name__}" for name, value in objects.items()}
print(json.dumps(names))
"""


def _run(code: str, *args: str) -> Any:
    completed = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


def test_the_resolver_imports_without_the_other_resolvers_and_event_sources() -> None:
    # Given the cold start module first, as every handler imports it
    loaded = _run(
        "import json, sys\nimport samtykke.coldstart\n"
        "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types\n"
        "from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source\n"
        "print(json.dumps(sorted(sys.modules)))"
    )

    # Then AppSync's resolver (and asyncio with it) and the event sources nobody asked for stay unimported
    assert "asyncio" not in loaded
    assert "aws_lambda_powertools.event_handler.appsync" not in loaded
    assert "aws_lambda_powertools.utilities.data_classes.sqs_event" not in loaded
    assert "aws_lambda_powertools.event_handler.api_gateway" in loaded


def test_every_reexported_name_is_the_packages_own() -> None:
    # Given each package as powertools' own __init__ builds it
    eager = _run(_NAMES, json.dumps({package: [] for package in REEXPORTING_PACKAGES}))

    # When the same names are asked for on demand
    on_demand = _run("import samtykke.coldstart\n" + _NAMES, json.dumps({p: list(n) for p, n in eager.items()}))

    # Then each names the same object (its module and name)

    assert on_demand == eager
    # `event_source` is both a submodule and the decorator it defines: the package's name is the decorator
    assert eager["aws_lambda_powertools.utilities.data_classes"]["event_source"].endswith(".event_source._event_source")
