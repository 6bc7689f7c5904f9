"""`make bench`: every scenario in a fresh process, cold-start import costs, a JSON report, a table, a trend.

Usage: python -m tests.bench.run [--scenario NAME] [--full] [--update-baseline]
Scenarios run two at a time (one per core); `--full` runs the campaign at the issue's 100,000 contacts, which takes
about a quarter of an hour on moto, instead of `make bench`'s 10,000. A scenario run alone
(`--scenario NAME --child`) prints its result as JSON, with the peak RSS of its process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REPORT = HERE / "report.json"
BASELINE = HERE / "baseline.json"
COLD_START_RUNS = 3
CALL_REGRESSION = 0.10  # a call count 10% over the baseline is a regression
RATIO_REGRESSION = 0.25  # an overhead or import ratio 25% over the baseline is one too
HANDLER_MODULES = sorted(p.parent.name for p in (ROOT / "functions").glob("*/handler.py"))
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


def import_milliseconds(statement: str) -> float:
    """The median total import time of `statement` in fresh interpreters, from `python -X importtime`."""
    totals = []
    for _ in range(COLD_START_RUNS):
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", statement],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={"POWERTOOLS_TRACE_DISABLED": "true", "PATH": "/usr/bin:/bin"},
        )
        # Each line: "import time: self [us] | cumulative | name"; top-level imports have no indent.
        cumulative = [
            int(line.split("|")[1])
            for line in completed.stderr.splitlines()
            if line.startswith("import time:")
            and "|" in line
            and not line.split("|")[2].startswith("  ")
            and line.split("|")[1].strip().isdigit()
        ]
        totals.append(sum(cumulative) / 1000)
    return round(statistics.median(totals), 1)


def cold_starts() -> dict[str, Any]:
    boto3_ms = import_milliseconds("import boto3")
    handlers = {}
    for name in HANDLER_MODULES:
        ms = import_milliseconds(f"import functions.{name}.handler")
        handlers[name] = {"import_ms": ms, "ratio_to_boto3": round(ms / boto3_ms, 3)}
    return {"boto3_ms": boto3_ms, "handlers": handlers}


def run_all(names: list[str], full: bool) -> dict[str, Any]:
    """The scenarios and the cold starts, PARALLEL at a time, longest first; the report keeps the given order."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        started = {name: pool.submit(run_scenario, name, full) for name in sorted(names, key=_longest_first)}
        cold = pool.submit(cold_starts)
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
    for name, result in report["cold_start"]["handlers"].items():
        before = baseline.get("cold_start", {}).get("handlers", {}).get(name)
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
    print(f"\nimport boto3: {cold['boto3_ms']} ms")
    for name, c in cold["handlers"].items():
        print(f"  functions.{name}.handler: {c['import_ms']} ms = {c['ratio_to_boto3']}x boto3")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help="the campaign at 100,000 contacts (slow)")
    parser.add_argument("--update-baseline", action="store_true", help="write this run as the new baseline")
    args = parser.parse_args()
    if args.child:
        run_child(args.scenario[0], args.full)
        return

    from tests.bench.scenarios import SCENARIOS

    names = args.scenario or list(SCENARIOS)
    report = run_all(names, args.full)
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
