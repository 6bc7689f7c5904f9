"""Admin routers split over functions: each deployed function loads only the routers whose routes it serves.

A FunctionSpec lists its admin routers (`routers`). Deployed, each router gets a function of its own, named after
the router, built from the same code, with `SAMTYKKE_ROUTERS` naming the one router it loads, and API Gateway routes
for exactly that router's routes. The spec's own function keeps `/v1/admin/{proxy+}`, with `SAMTYKKE_ROUTERS`
naming its `kept_routers`: it serves those, and answers what no router claims (our JSON 404). Locally (no
`SAMTYKKE_ROUTERS`), the spec's function serves all of its routers, as one function did before.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from importlib import import_module
from typing import TYPE_CHECKING

from samtykke.environment import ENV_ROUTERS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Router

    from samtykke.resources import FunctionSpec, Grant, RouteSpec

ROUTES_PACKAGE = "samtykke.api.routes"


def served_routers(function: str) -> list[Router]:
    """The routers this container serves: its spec's, narrowed to `SAMTYKKE_ROUTERS` where that is set."""
    from samtykke.resources import function_spec

    spec = function_spec(function)
    declared = (*spec.routers, *spec.kept_routers)
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
    """The functions a spec deploys as: itself (serving its kept routers) and one per router it splits off."""
    if not spec.routers:
        return [spec]
    base = dataclasses.replace(
        spec,
        environment={**spec.environment, ENV_ROUTERS: ",".join(spec.kept_routers)},
        grants=_grants_for(spec, spec.kept_routers),
    )
    shards = [
        dataclasses.replace(
            spec,
            name=router,
            code=spec.folder,
            description=f"{spec.description}: {router.replace('_', ' ')} routes",
            environment={**spec.environment, ENV_ROUTERS: router},
            routers=(router,),
            kept_routers=(),
            grants=_grants_for(spec, (router,)),
            router_grants={},
            table_keys=spec.router_table_keys.get(router, spec.table_keys),
            evidence_prefixes=spec.router_evidence_prefixes.get(router, spec.evidence_prefixes),
            router_table_keys={},
            router_evidence_prefixes={},
        )
        for router in spec.routers
    ]
    return [base, *shards]


def _grants_for(spec: FunctionSpec, routers: tuple[str, ...]) -> tuple[Grant, ...]:
    """The spec's grants that these routers need: every grant, less those `router_grants` gives other routers."""
    return tuple(
        grant
        for grant in spec.grants
        if grant not in spec.router_grants or set(routers) & set(spec.router_grants[grant])
    )


def split_routes(spec: FunctionSpec, others: Iterable[RouteSpec] = ()) -> list[RouteSpec]:
    """API Gateway routes to the functions split off a spec: each of its routers' routes to that router's function.

    A stack holds at most 500 resources, and every route costs two (the route and Lambda's permission for it). So
    where one router alone serves a first path segment (`/v1/admin/purposes/...`), that segment is routed whole,
    `ANY /v1/admin/<segment>` and `ANY /v1/admin/<segment>/{proxy+}`, and the router answers the rest of it itself
    (a 404 for a path it does not serve). A segment that several routers, or any route in `others`, share is
    routed route by route: API Gateway prefers the more specific route, so the explicit ones win either way.
    """
    from samtykke.resources import RouteSpec

    keys = {router: router_route_keys(router) for router in spec.routers}
    owners: dict[str, set[str]] = {}
    for router, router_keys in keys.items():
        for _, path in router_keys:
            owners.setdefault(_segment(path), set()).add(router)
    for route in others:
        owners.setdefault(_segment(route.path), set()).add(f"route:{route.function}")
    for kept in spec.kept_routers:  # served by the spec's own function through its catch-all route
        for _, path in router_route_keys(kept):
            owners.setdefault(_segment(path), set()).add(f"kept:{spec.name}")
    routes: list[RouteSpec] = []
    for router, router_keys in keys.items():
        whole = sorted({_segment(path) for _, path in router_keys if owners[_segment(path)] == {router}})
        for segment in whole:
            paths = {path for _, path in router_keys if _segment(path) == segment}
            base = f"{ADMIN_PREFIX}{segment}"
            if base in paths:
                routes.append(RouteSpec("ANY", base, router, "admin"))
            if paths - {base}:
                routes.append(RouteSpec("ANY", f"{base}/{{proxy+}}", router, "admin"))
        routes += [
            RouteSpec(method, path, router, "admin")  # type: ignore[arg-type]
            for method, path in router_keys
            if _segment(path) not in whole
        ]
    return routes


ADMIN_PREFIX = "/v1/admin/"


def _segment(path: str) -> str:
    """The first path segment after /v1/admin/ (`purposes` of /v1/admin/purposes/{id}); "" for other paths."""
    if not path.startswith(ADMIN_PREFIX):
        return ""
    return path.removeprefix(ADMIN_PREFIX).split("/", 1)[0]
