"""admin_api's routers split over functions: each deployed route reaches the function that loads its router."""

from __future__ import annotations

import dataclasses
import re

import pytest
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from infra.specs import ResourceSpecs, SpecError
from samtykke.api.app import build_resolver
from samtykke.api.auth import BEARER_SCHEME
from samtykke.api.sharding import router_of, served_routers, split_functions
from samtykke.environment import ENV_ROUTERS
from samtykke.local.apigw import Router
from samtykke.resources import function_spec

pytestmark = pytest.mark.unit

ADMIN = function_spec("admin_api")
DEPLOYED = ResourceSpecs()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


@pytest.mark.parametrize("router", [*ADMIN.routers, *ADMIN.kept_routers])
def test_every_documented_route_of_a_router_reaches_its_own_function(router: str) -> None:
    # Given the router's own OpenAPI document (powertools' public view of its routes)
    schema = build_resolver(router_of(router)).get_openapi_schema(security_schemes={BEARER_SCHEME: HTTPBearer()})
    paths = schema.paths or {}
    assert paths
    api_gateway = Router(DEPLOYED.deployed_routes)
    for path, operations in paths.items():
        for method in operations.model_dump(exclude_none=True):
            # When API Gateway (sorted by specificity as the local front sorts) routes a request for it
            match = api_gateway.match(method.upper(), _concrete(path))
            # Then it reaches the function that loads that router, and no other
            assert match is not None, (method, path)
            assert match.route.function == (router if router in ADMIN.routers else "admin_api"), (method, path)


def test_each_split_function_is_told_its_router_and_the_rest_none() -> None:
    base, *shards = split_functions(ADMIN)
    assert base.name == "admin_api"
    assert base.environment[ENV_ROUTERS] == ",".join(ADMIN.kept_routers)
    assert [(s.name, s.folder, s.environment[ENV_ROUTERS]) for s in shards] == [
        (name, "admin_api", name) for name in ADMIN.routers
    ]
    assert all(s.memory_mb == ADMIN.memory_mb for s in shards)
    # A grant that only some routers need goes only to their functions; every other grant goes to them all
    for function in (base, *shards):
        served = set(function.kept_routers or function.routers)  # the base keeps the spec's `routers` list
        for grant in ADMIN.grants:
            needs = served & set(ADMIN.router_grants.get(grant, served))
            assert (grant in function.grants) is bool(needs), (function.name, grant)
    # So do a router's own table keys and evidence prefixes; the base function keeps the spec's
    assert (base.table_keys, base.evidence_prefixes) == (ADMIN.table_keys, ADMIN.evidence_prefixes)
    for shard in shards:
        assert shard.table_keys == ADMIN.router_table_keys.get(shard.name, ADMIN.table_keys)
        assert shard.evidence_prefixes == ADMIN.router_evidence_prefixes.get(shard.name, ADMIN.evidence_prefixes)


def test_a_container_loads_only_the_routers_its_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROUTERS, "admin_campaigns")
    assert served_routers("admin_api") == [router_of("admin_campaigns")]
    monkeypatch.setenv(ENV_ROUTERS, "")
    assert served_routers("admin_api") == []
    monkeypatch.delenv(ENV_ROUTERS)
    assert served_routers("admin_api") == [router_of(name) for name in (*ADMIN.routers, *ADMIN.kept_routers)]
    monkeypatch.setenv(ENV_ROUTERS, "admin_sms")
    with pytest.raises(RuntimeError, match="admin_sms"):
        served_routers("admin_api")


def test_a_route_claimed_twice_is_refused() -> None:
    (campaign_route, *_) = (r for r in DEPLOYED.deployed_routes if r.function == "admin_campaigns")
    with pytest.raises(SpecError, match="declared twice"):
        ResourceSpecs(routes=(*DEPLOYED.routes, dataclasses.replace(campaign_route, function="admin_api")))
