"""Schemathesis over every operation of `/openapi.json`, public and admin (with the admin key), on a local stack.

`make fuzz` runs it in full on its own `samtykke local`; CI runs a short, seeded version (tests/e2e/test_fuzz.py).
Two checks decide: no 5xx, and every response matches the schema of its status code. Each failure is kept with
the request that caused it, and the run ends with its figures: cases, 5xx, schema violations.

    python -m tests.fuzz.run [--examples 40] [--seed 20] [--url URL --admin-key KEY]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

ADMIN_PREFIX = "/v1/admin/"
REQUEST_TIMEOUT_SECONDS = 30


@dataclass
class FuzzReport:
    operations: int = 0
    cases: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    schema_violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "cases": self.cases,
            "5xx": len(self.server_errors),
            "schema_violations": len(self.schema_violations),
            "statuses": dict(sorted(self.by_status.items())),
            "seconds": round(self.seconds, 1),
        }


def fuzz(api_url: str, admin_key: str, *, examples: int, seed_value: int) -> FuzzReport:
    # The first request cold-starts the openapi function, which builds every model: give it time.
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json", timeout=120)
    report = FuzzReport()
    session = requests.Session()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        report.operations += 1
        headers = {"Authorization": f"Bearer {admin_key}"} if operation.path.startswith(ADMIN_PREFIX) else {}
        _fuzz_operation(operation, api_url, headers, session, report, examples=examples, seed_value=seed_value)
    report.seconds = time.monotonic() - started
    return report


def _fuzz_operation(
    operation: Any,
    api_url: str,
    headers: dict[str, str],
    session: requests.Session,
    report: FuzzReport,
    *,
    examples: int,
    seed_value: int,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @seed(seed_value)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is recorded, not raised
        suppress_health_check=list(HealthCheck),
    )
    # Valid requests and, as an attacker sends them, requests that break the schema.
    @given(case=st.one_of(operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))
    def run(case: Any) -> None:
        response = case.call(base_url=api_url, session=session, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        report.cases += 1
        report.by_status[response.status_code] += 1
        described = f"{label} -> {response.status_code}: {case.as_curl_command(headers=headers, base_url=api_url)}"
        if response.status_code >= 500:
            report.server_errors.append(f"{described}\n    {response.text[:300]}")
            return
        try:
            case.validate_response(response, checks=[response_schema_conformance], headers=headers)
        except (Failure, FailureGroup) as failure:
            report.schema_violations.append(f"{described}\n    {str(failure)[:500]}")

    run()


def _local_stack_and_fuzz(examples: int, seed_value: int) -> FuzzReport:
    from samtykke.local.stack import LocalStack

    with LocalStack(port=0) as stack:
        assert stack.demo is not None
        return fuzz(stack.api_url, stack.demo.admin_api_key, examples=examples, seed_value=seed_value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=80, help="cases per operation (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=20, help="hypothesis seed (default: %(default)s)")
    parser.add_argument("--url", help="a running `samtykke local` (default: start one)")
    parser.add_argument("--admin-key", help="its admin API key (with --url)")
    args = parser.parse_args(argv)
    if args.url:
        report = fuzz(args.url.rstrip("/"), args.admin_key or "", examples=args.examples, seed_value=args.seed)
    else:
        report = _local_stack_and_fuzz(args.examples, args.seed)
    for line in [*report.server_errors, *report.schema_violations]:
        print(line, file=sys.stderr)
    print(json.dumps(report.figures(), indent=2))
    return 1 if report.server_errors or report.schema_violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
