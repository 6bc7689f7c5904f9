"""`samtykke outbox`: what the running local stack "sent".

samtykke outbox                 # one line per message, oldest first
samtykke outbox --last          # the newest message: its headers, text and every link in it
samtykke outbox --last --to anna@example.dk
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from samtykke.cli_http import CliError, client


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("outbox", help="the emails and SMS the local stack sent (GET /_local/outbox)")
    parser.add_argument("--last", action="store_true", help="print the newest message's text and links")
    parser.add_argument("--to", default=None, help="only messages to this email address or phone number")
    parser.add_argument("--api-url", default=None, help="the local stack's URL (default: from .samtykke/local.json)")
    parser.set_defaults(run=run, api_key=None)


def run(args: argparse.Namespace) -> int:
    try:
        entries: list[dict[str, Any]] = client(args, needs_key=False).get("/_local/outbox", {"to": args.to})
    except CliError as error:
        print(f"samtykke outbox: {error}", file=sys.stderr)
        return 2
    if not entries:
        print("samtykke outbox: nothing sent yet" + (f" to {args.to}" if args.to else ""), file=sys.stderr)
        return 1
    print(render_message(entries[-1]) if args.last else "\n".join(summary_line(entry) for entry in entries))
    return 0


def summary_line(entry: dict[str, Any]) -> str:
    about = entry.get("subject") or (entry.get("text") or "")[:60]
    return f"{entry.get('sent_at') or '-'}  {entry['channel']:<5}  {', '.join(entry['to'])}  {about}"


def render_message(entry: dict[str, Any]) -> str:
    lines = [f"{entry['channel']} to {', '.join(entry['to'])} at {entry.get('sent_at') or '-'}"]
    if entry.get("subject"):
        lines.append(f"Subject: {entry['subject']}")
    lines += ["", (entry.get("text") or "(no text part)").rstrip(), "", "Links:"]
    lines += [f"  {link}" for link in entry.get("links", [])] or ["  (none)"]
    return "\n".join(lines)
