"""`samtykke changes`: the change feed, from a cursor or a time, as JSON Lines, with a progress bar.

    samtykke changes --since 2026-01-01 > changes.jsonl
    samtykke changes --since c1.… --follow

Each change (a CloudEvent) is one line on stdout, or in `--output`. The progress bar on stderr runs from the first
change's time to now; at the end the cursor to resume from is printed to stderr (and written to `--cursor-file`).
The API and key come as for `samtykke imports`. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from samtykke.import_cli import CliError, _Client, _endpoint

BAR_WIDTH = 30
FOLLOW_SECONDS = 2.0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("changes", help="the change feed: every consent and suppression change, in order")
    parser.add_argument("--api-url", default=None, help="the API's base URL (default: the local stack's)")
    parser.add_argument("--api-key", default=None, help="an admin API key (default: the local demo tenant's)")
    parser.add_argument("--since", default=None, help="a cursor from an earlier run, or an ISO date or time")
    parser.add_argument("--limit", type=int, default=500, help="changes per page (1-500)")
    parser.add_argument("--output", type=Path, default=None, help="write JSON Lines here rather than to stdout")
    parser.add_argument("--cursor-file", type=Path, default=None, help="keep the resume cursor in this file")
    parser.add_argument("--follow", action="store_true", help="keep polling for new changes (Ctrl-C stops)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    since = args.since
    if since is None and args.cursor_file is not None and args.cursor_file.exists():
        since = args.cursor_file.read_text(encoding="utf-8").strip() or None
    try:
        client = _Client(*_endpoint(args))
        out = args.output.open("a", encoding="utf-8") if args.output else sys.stdout
        try:
            cursor = download(client, since, limit=args.limit, out=out, progress=sys.stderr, follow=args.follow)
        finally:
            if args.output:
                out.close()
    except CliError as error:
        print(f"samtykke changes: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.cursor_file is not None:
        args.cursor_file.write_text(cursor + "\n", encoding="utf-8")
    print(f"resume with: samtykke changes --since {cursor}", file=sys.stderr)
    return 0


def download(client: Any, since: str | None, *, limit: int, out: TextIO, progress: TextIO, follow: bool = False) -> str:
    """Writes every change after `since` to `out`, one JSON object a line; returns the cursor to resume from."""
    received, first = 0, None
    while True:
        page = client.request("GET", "/v1/admin/changes", query={"limit": limit, **({"since": since} if since else {})})
        for change in page["changes"]:
            out.write(json.dumps(change, separators=(",", ":"), ensure_ascii=False) + "\n")
        received += len(page["changes"])
        if page["changes"]:
            first = first or page["changes"][0]["time"]
            progress.write("\r" + progress_line(received, first, page["changes"][-1]["time"]))
            progress.flush()
        since = page["next_cursor"]
        if not page["has_more"]:
            if not follow:
                progress.write("\r" + progress_line(received, first, None) + "\n")
                return str(since)
            time.sleep(FOLLOW_SECONDS)


def progress_line(received: int, first: str | None, last: str | None, now: datetime | None = None) -> str:
    """`[#####.....]  47%  1,234 changes, up to 2026-12-02T10:00:00`: how far from the first change towards now."""
    now = now or datetime.now(UTC)
    share = 1.0
    if first and last:
        start, at = datetime.fromisoformat(first), datetime.fromisoformat(last)
        span = (now - start).total_seconds()
        share = 1.0 if span <= 0 else max(0.0, min(1.0, (at - start).total_seconds() / span))
    filled = round(share * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    upto = f", up to {last[:19]}" if last else ", caught up"
    return f"[{bar}] {share:4.0%}  {received:,} changes{upto}"
