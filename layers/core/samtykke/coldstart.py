"""A Lambda cold start's import without the cyclic garbage collector, and without re-exports nobody uses.

Importing a handler allocates hundreds of thousands of objects (modules, classes, functions) that live as long as the
container, and the collector would walk them again and again while they are made: 10-20% of the import. A handler
imports this module first, which pauses the collector, and calls `imported()` last, which moves everything made so
far into the permanent generation (`gc.freeze`) and turns the collector back on for the requests.

Only on Lambda (`LAMBDA_TASK_ROOT` is set): the local stack and the tests import many handlers into one long-lived
process, where a handler that failed to import must not leave the collector off.

Two powertools packages re-export every module they hold from their `__init__`: `event_handler` imports the AppSync,
Bedrock and VPC Lattice resolvers (and asyncio with them) for our one HTTP resolver, and `utilities.data_classes`
imports some thirty event sources for the two or three we read. Importing a module inside a package runs its
`__init__` first, so importing the submodule we need directly would not help. `ReexportsOnDemand` gives those two
packages a module that imports each re-exported name on first use instead. Everywhere, not only on Lambda: a
package imported before this module (the tests' conftest) simply stays as it is.
"""

from __future__ import annotations

import gc
import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

TYPE_CHECKING = False  # not typing's: importing typing here would run it before the collector is paused
if TYPE_CHECKING:
    from typing import Any

IN_LAMBDA = "LAMBDA_TASK_ROOT" in os.environ
if IN_LAMBDA:
    gc.disable()

REEXPORTING_PACKAGES = frozenset(
    {"aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes"}
)


class ReexportsOnDemand:
    """A meta path finder and loader for packages whose `__init__` only re-exports names from their submodules.

    The package's module gets a module `__getattr__` that imports a re-exported name's submodule when the name is
    first asked for. A package whose `__init__` does anything else is imported as usual.
    """

    def __init__(self, packages: frozenset[str]) -> None:
        self.packages = packages
        self.sources: dict[str, dict[str, tuple[str, str]]] = {}

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.packages:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or (sources := reexports(fullname, spec.loader)) is None:
            return spec
        self.sources[fullname] = sources
        spec.loader = self  # type: ignore[assignment]  # a Loader by its methods: importlib.abc costs 35 ms to import
        return spec

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module

    def exec_module(self, package: ModuleType) -> None:
        sources = self.sources[package.__name__]

        def resolve(name: str) -> Any:
            if name not in sources:
                raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")
            module, original = sources[name]
            value = getattr(__import__(module, fromlist=[original]), original)
            setattr(package, name, value)
            return value

        package.__getattr__ = resolve  # type: ignore[method-assign]
        # `from .event_source import event_source`: a name that its own submodule bears is bound now, since importing
        # that submodule first would bind the submodule to the name instead.
        for name, (module, _) in sources.items():
            if module == f"{package.__name__}.{name}":
                resolve(name)


def reexports(package: str, loader: Any) -> dict[str, tuple[str, str]] | None:
    """Each name the package's `__init__` re-exports, as (its submodule, its name there); None if the `__init__`
    does anything but a docstring, `from … import name, …` and `__all__ = […]`."""
    import ast  # the resolver's imports (inspect) bring it in anyway

    sources: dict[str, tuple[str, str]] = {}
    for node in ast.parse(loader.get_source(package)).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level <= 1 and _named(node.names):
            module = f"{package}.{node.module}" if node.level else node.module
            sources.update({alias.asname or alias.name: (module, alias.name) for alias in node.names})
        elif not (
            (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
            or (isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["__all__"])
        ):
            return None
    return sources


def _named(aliases: list[Any]) -> bool:
    return all(alias.name != "*" for alias in aliases)


sys.meta_path.insert(0, ReexportsOnDemand(REEXPORTING_PACKAGES))


def imported() -> None:
    if IN_LAMBDA:
        gc.freeze()
        gc.enable()
