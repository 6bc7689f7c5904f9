"""The local stack as `make run` runs it, as it fills up: a form post's cost at 100 and at 20,000 contacts, and the
memory of the whole process tree (the stack, its moto, every handler worker).

The stack's own moto uses the DynamoDB speed-ups (`samtykke/local/moto_speedups.py`); without them a post at 20,000
contacts costs many times one at 100 (a whole-table copy per transaction) and the memory grows with every write.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx

from samtykke.local.stack import LocalStack
from samtykke.services.context import services
from tests.bench.scenarios import ScenarioResult
from tests.integration.campaign_support import Person, seed

SMALL, LARGE = 100, 20_000
POSTS = 60  # timed posts at each size
SEED_BATCH = 500
RATIO_LIMIT = 2.0
MEMORY_LIMIT_MB = 1536


def _tree_rss_mb(root: int) -> float:
    """The resident memory of `root` and every process below it, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    kb = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return round(kb / 1024, 1)


def _post_ms(api: httpx.Client, tenant_id: str, label: str) -> float:
    """The median milliseconds of a form post by a new person (after a few to warm the workers)."""
    timings = []
    for i in range(POSTS + 5):
        body = {"email": f"{label}{i}@bench.example", "purpose": ["sales-and-service"], "locale": "da"}
        started = time.perf_counter()
        response = api.post(f"/v1/public/{tenant_id}/consents", json=body)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 201, response.text
    return statistics.median(timings[5:])


def local_stack_growth(contacts: int = LARGE) -> ScenarioResult:
    import os

    from samtykke.local.inprocess import _forget_cached_configuration

    with LocalStack(port=0) as stack, httpx.Client(base_url=stack.api_url, timeout=60) as api:
        assert stack.demo is not None
        _forget_cached_configuration()  # this process seeds through the stack's moto, with the stack's settings
        tenant_id = stack.demo.tenant_id
        seed(services(), tenant_id, [Person(email=f"small{i}@bench.example") for i in range(SMALL)])
        small_ms = _post_ms(api, tenant_id, "at-small")
        for start in range(SMALL, contacts, SEED_BATCH):
            people = [Person(email=f"fill{i}@bench.example") for i in range(start, min(contacts, start + SEED_BATCH))]
            seed(services(), tenant_id, people)
        large_ms = _post_ms(api, tenant_id, "at-large")
        memory_mb = _tree_rss_mb(os.getpid())
    ratio = round(large_ms / small_ms, 3)
    return ScenarioResult(
        name="local_stack_growth",
        description=f"samtykke local: a form post at {contacts} contacts against one at {SMALL}, and its memory",
        calls={"http:POST /v1/public/{tenant}/consents": 2 * (POSTS + 5)},
        measured_calls=2 * (POSTS + 5),
        floor_calls=2 * (POSTS + 5),
        floor="one HTTP form post each (its AWS calls: see consent_capture)",
        overhead_ratio=ratio,
        extra={
            "post_ms_at_small": round(small_ms, 1),
            "post_ms_at_large": round(large_ms, 1),
            "ratio_limit": RATIO_LIMIT,
            "tree_rss_mb": memory_mb,
            "memory_limit_mb": MEMORY_LIMIT_MB,
        },
    )
