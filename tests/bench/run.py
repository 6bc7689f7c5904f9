"""`make bench`: every scenario in a fresh process, cold-start import costs, a JSON report, a table, a trend.

Usage: python -m tests.bench.run [--scenario NAME] [--full] [--update-baseline] [--cold-start deployed|venv]
Cold starts: tests/bench/coldstart.py (as deployed, with Lambda's environment, in CPU time, by default).
Scenarios run two at a time (one per core); `--full` runs the campaign at the issue's 100,000 contacts, which takes
about a quarter of an hour on moto, instead of `make bench`'s 10,000. A scenario run alone
(`--scenario NAME --child`) prints its result as JSON, with the peak RSS of its process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.bench.coldstart import import_costs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REPORT = HERE / "report.json"
BASELINE = HERE / "baseline.json"
COLD_START_ROUNDS = 5
CALL_REGRESSION = 0.10  # a call count 10% over the baseline is a regression
RATIO_REGRESSION = 0.25  # an overhead or import ratio 25% over the baseline is one too
PARALLEL = min(2, os.cpu_count() or 1)  # each scenario is one single-threaded process


def run_child(name: str, full: bool) -> None:
    from tests.bench.scenarios import FULL_SIZES, SCENARIOS

    result = SCENARIOS[name](**(FULL_SIZES.get(name, {}) if full else {})).as_dict()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def run_scenario(name: str, full: bool) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.bench.run", "--scenario", name, "--child", *(["--full"] if full else [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"scenario {name} failed:\n{completed.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run_all(names: list[str], full: bool, cold_start: str, rounds: int) -> dict[str, Any]:
    """The scenarios and the cold starts, PARALLEL at a time, longest first; the report keeps the given order."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        started = {name: pool.submit(run_scenario, name, full) for name in sorted(names, key=_longest_first)}
        cold = pool.submit(import_costs, rounds, cold_start)
        return {"scenarios": {name: started[name].result() for name in names}, "cold_start": cold.result()}


def _longest_first(name: str) -> int:
    return 0 if name == "campaign" else 1


def regressions(report: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    found = []
    for name, result in report["scenarios"].items():
        before = baseline.get("scenarios", {}).get(name)
        if before is None:
            continue
        # Calls per floor call, so that a run at other sizes (`--full`) compares too.
        if result["call_ratio"] > before["call_ratio"] * (1 + CALL_REGRESSION):
            found.append(f"{name}: {result['call_ratio']} calls per floor call, baseline {before['call_ratio']}")
        ratio, ratio_before = result.get("overhead_ratio"), before.get("overhead_ratio")
        if ratio and ratio_before and ratio > ratio_before * (1 + RATIO_REGRESSION):
            found.append(f"{name}: overhead {result['overhead_ratio']}x, baseline {before['overhead_ratio']}x")
    for name, result in report["scenarios"].items():  # absolute limits a scenario sets itself
        extra = result.get("extra", {})
        if "ratio_limit" in extra and result["overhead_ratio"] > extra["ratio_limit"]:
            found.append(f"{name}: {result['overhead_ratio']}x, over its limit of {extra['ratio_limit']}x")
        if "memory_limit_mb" in extra and extra["tree_rss_mb"] > extra["memory_limit_mb"]:
            found.append(f"{name}: {extra['tree_rss_mb']} MB, over its limit of {extra['memory_limit_mb']} MB")
    cold_before = baseline.get("cold_start", {})
    if cold_before.get("mode") != report["cold_start"]["mode"]:
        return found  # import costs compare only within one set-up (deployed or venv)
    for name, result in report["cold_start"]["handlers"].items():
        before = cold_before.get("handlers", {}).get(name)
        if before and result["ratio_to_boto3"] > before["ratio_to_boto3"] * (1 + RATIO_REGRESSION):
            found.append(f"{name}: import {result['ratio_to_boto3']}x boto3, baseline {before['ratio_to_boto3']}x")
    return found


def print_table(report: dict[str, Any]) -> None:
    print(f"{'scenario':<18} {'calls':>7} {'floor':>7} {'ratio':>6} {'overhead':>9} {'peak RSS':>9}")
    for name, r in report["scenarios"].items():
        overhead = f"{r['overhead_ratio']}x" if r.get("overhead_ratio") else "-"
        print(
            f"{name:<18} {r['measured_calls']:>7} {r['floor_calls']:>7} {r['call_ratio']:>6.3f} {overhead:>9} "
            f"{r['peak_rss_mb']:>7.0f}MB"
        )
    cold = report["cold_start"]
    print(f"\ncold start ({cold['mode']}, {cold['interpreter']}, median of {cold['rounds']} rounds, CPU time)")
    print(f"import boto3: {cold['boto3_cpu_ms']} ms")
    for name, c in cold["handlers"].items():
        print(f"  {name}: {c['import_cpu_ms']} ms = {c['ratio_to_boto3']}x boto3")
    first = cold.get("first_request")
    if first:
        print(
            f"first request ({first['function']}): {first['first_invocation_cpu_ms']} ms = {first['ratio']}x "
            f"import boto3 + one client ({first['boto3_and_one_client_cpu_ms']} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help="the campaign at 100,000 contacts (slow)")
    parser.add_argument("--update-baseline", action="store_true", help="write this run as the new baseline")
    parser.add_argument(
        "--cold-start",
        choices=("deployed", "venv"),
        default="deployed",
        help="import the handlers from the built assets as Lambda does (default), or from this venv",
    )
    parser.add_argument("--rounds", type=int, default=COLD_START_ROUNDS, help="fresh interpreters per import figure")
    args = parser.parse_args()
    if args.child:
        run_child(args.scenario[0], args.full)
        return

    from tests.bench.scenarios import SCENARIOS

    names = args.scenario or list(SCENARIOS)
    report = run_all(names, args.full, args.cold_start, args.rounds)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    if args.update_baseline:
        BASELINE.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nbaseline written to {BASELINE.relative_to(ROOT)}")
        return
    if BASELINE.exists():
        found = regressions(report, json.loads(BASELINE.read_text()))
        for line in found:
            print(f"REGRESSION {line}")
        if found:
            raise SystemExit(1)
        print("\nno regression against the baseline")


if __name__ == "__main__":
    main()
