"""`make chaos`: the four scenarios at the issue's sizes, behind the fault proxy; prints the figures, fails if any
scenario lost, duplicated or stranded anything.

    python -m tests.chaos.run [--seed N] [--scale 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace

from tests.chaos.harness import PLAN, broken_chains, chaotic_stack
from tests.chaos.scenarios import (
    Finding,
    campaign_with_withdrawals,
    concurrent_unsubscribes,
    lawful_import,
    signed_stops,
)

# The sizes: a 1,000-recipient campaign with withdrawals during the send, 500 concurrent unsubscribes,
# 500 signed STOPs, a 2,000-row import.
SIZES = {"campaign": 1000, "withdrawals": 50, "unsubscribes": 500, "stops": 500, "import": 2000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=PLAN.seed, help="the fault stream's seed (default %(default)s)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    args = parser.parse_args()
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the handlers' INFO lines would bury the figures
    sizes = {name: max(1, int(n * args.scale)) for name, n in SIZES.items()}
    started = time.monotonic()
    with chaotic_stack(replace(PLAN, seed=args.seed)) as chaos:
        findings: list[Finding] = [
            campaign_with_withdrawals(chaos, sizes["campaign"], sizes["withdrawals"]),
            concurrent_unsubscribes(chaos, sizes["unsubscribes"]),
            signed_stops(chaos, sizes["stops"]),
            lawful_import(chaos, sizes["import"]),
        ]
        broken = broken_chains(chaos)
        faults = chaos.proxy.stats.summary()
    report = {
        "seed": args.seed,
        "seconds": round(time.monotonic() - started, 1),
        "findings": [asdict(f) for f in findings],
        "broken_chains": len(broken),
        "proxy": faults,
    }
    print(json.dumps(report, indent=2))
    print("\n| scenario | size | messages | duplicates | lost | stuck | sent after withdrawal | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for f in findings:
        row = (f.scenario, f.size, f.messages, f.duplicates, f.lost, f.stuck, f.after_withdrawal, f.seconds)
        print("| " + " | ".join(str(v) for v in row) + " |")
    print(f"\nfaults injected: {faults['faults']} in {faults['requests']} AWS requests; broken chains: {len(broken)}")
    return 0 if all(f.clean() for f in findings) and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
