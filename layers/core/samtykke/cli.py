"""The `samtykke` command.

Each subcommand group is a module with `register(subparsers)`, which adds its parser and sets `run`. Those modules
import only argparse-level things; the heavy imports wait until a command runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

COMMAND_MODULES = (
    "samtykke.local.cli",
    "samtykke.local.outbox_cli",
    "samtykke.import_cli",
    "samtykke.staff_cli",
    "samtykke.operator_cli",
    "samtykke.campaign_cli",
    "samtykke.list_cli",
    "samtykke.verify_cli",
    "samtykke.changes_cli",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samtykke", description="Serverless GDPR consent backend.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    args = parser.parse_args(argv)
    return int(args.run(args))
