"""`samtykke verify`: checks a DSAR export or consent receipts offline, with nothing but the public key.

    samtykke verify export.json --public-key checkpoint-key.pem
    samtykke verify consent-receipts.json --public-key checkpoint-key.pem

The key is the PEM served at `GET /v1/public/evidence/public-key`; fetch it once, keep it. No AWS call, no
network: the check is `samtykke.domain.evidence.verify`, documented in docs/evidence.md so that anyone can write
their own. Prints the verdict as JSON; exits 0 when everything verifies, 1 when something does not, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("verify", help="check a DSAR export or consent receipts offline")
    parser.add_argument("document", type=Path, help="an export (JSON), a receipt, or a receipts download")
    parser.add_argument("--public-key", type=Path, required=True, help="the checkpoint public key (PEM)")
    parser.set_defaults(run=run)


def verdicts(document: dict[str, Any], public_key_pem: bytes) -> list[dict[str, Any]]:
    """One verdict per thing checked: the export's log, or each receipt."""
    from samtykke.domain.evidence.verify import verify_export, verify_receipt

    if "export_version" in document:
        return [{"contact_id": document["contact"]["contact_id"], **verify_export(document, public_key_pem).as_dict()}]
    receipts = document.get("receipts", [document])
    return [{"receipt_id": r.get("receipt_id"), **verify_receipt(r, public_key_pem).as_dict()} for r in receipts]


def run(args: argparse.Namespace) -> int:
    try:
        document = json.loads(args.document.read_text())
        results = verdicts(document, args.public_key.read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"samtykke verify: cannot check {args.document}: {exc!r}", file=sys.stderr)
        return 2
    ok = all(result["ok"] for result in results)
    print(json.dumps({"ok": ok, "results": results}, indent=2))
    return 0 if ok else 1
