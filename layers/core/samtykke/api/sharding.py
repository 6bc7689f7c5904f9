"""Admin routers split over functions: each deployed function loads only the routers whose routes it serves.

A FunctionSpec lists its admin routers (`routers`). Deployed, each router gets a function of its own, named after
the router, built from the same code, with `SAMTYKKE_ROUTERS` naming the one router it loads, and API Gateway routes
for exactly that router's routes. The spec's own function keeps `/v1/admin/{proxy+}`, with an empty
`SAMTYKKE_ROUTERS`: it answers what no router claims (our JSON 404) and serves any router its handler registers
itself. Locally (no `SAMTYKKE_ROUTERS`), the spec's function serves all of its routers, as one function did before.
"""

from __future__ import annotations

import dataclasses
import os
from importlib import import_module
from typing import TYPE_CHECKING

from samtykke.environment import ENV_ROUTERS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Router

    from samtykke.resources import FunctionSpec, RouteSpec

ROUTES_PACKAGE = "samtykke.api.routes"


def served_routers(function: str) -> list[Router]:
    """The routers this container serves: its spec's, narrowed to `SAMTYKKE_ROUTERS` where that is set."""
    from samtykke.resources import function_spec

    declared = function_spec(function).routers
    only = os.environ.get(ENV_ROUTERS)
    names = declared if only is None else tuple(name for name in only.split(",") if name)
    unknown = sorted(set(names) - set(declared))
    if unknown:
        raise RuntimeError(f"{ENV_ROUTERS} names routers {unknown} that {function}'s spec does not list")
    return [router_of(name) for name in names]


def router_of(name: str) -> Router:
    router: Router = import_module(f"{ROUTES_PACKAGE}.{name}").router
    return router


def router_route_keys(name: str) -> list[tuple[str, str]]:
    """(method, API Gateway path) of every route the router registers: `<param>` becomes `{param}`."""
    keys = set()
    # powertools keeps a router's routes in `_routes`, keyed by (rule, methods, ...); it has no public listing.
    for route_key in router_of(name)._routes:
        rule, methods = route_key[0], route_key[1]
        path = rule.replace("<", "{").replace(">", "}")
        for method in (methods,) if isinstance(methods, str) else methods:
            keys.add((method.upper(), path))
    return sorted(keys)


def split_functions(spec: FunctionSpec) -> list[FunctionSpec]:
    """The functions a spec deploys as: itself (serving no listed router) and one per listed router."""
    if not spec.routers:
        return [spec]
    base = dataclasses.replace(spec, environment={**spec.environment, ENV_ROUTERS: ""})
    shards = [
        dataclasses.replace(
            spec,
            name=router,
            code=spec.folder,
            description=f"{spec.description}: {router.replace('_', ' ')} routes",
            environment={**spec.environment, ENV_ROUTERS: router},
            routers=(router,),
        )
        for router in spec.routers
    ]
    return [base, *shards]


def split_routes(spec: FunctionSpec) -> list[RouteSpec]:
    """API Gateway routes to the functions split off a spec: each of its routers' routes to that router's function."""
    from samtykke.resources import RouteSpec

    return [
        RouteSpec(method, path, router, "admin")  # type: ignore[arg-type]
        for router in spec.routers
        for method, path in router_route_keys(router)
    ]
