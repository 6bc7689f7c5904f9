"""`samtykke campaigns`: dry-run and send a campaign, and follow its progress with a progress bar, over the admin API.

    samtykke campaigns dry-run cmp_…
    samtykke campaigns send cmp_… --follow
    samtykke campaigns status cmp_… [--follow]

The API and key come from `--api-url`/`--api-key`, else SAMTYKKE_API_URL/SAMTYKKE_API_KEY, else the running local
stack's `.samtykke/local.json`. Only the standard library is used, so the command runs wherever samtykke does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

LOCAL_JSON = Path(".samtykke") / "local.json"
POLL_SECONDS = 1.0
BAR_WIDTH = 30


class CliError(Exception):
    pass


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("campaigns", help="campaigns: dry-run, send, and follow a send's progress")
    parser.add_argument("--api-url", default=None, help="the API's base URL (default: the local stack's)")
    parser.add_argument("--api-key", default=None, help="an admin API key (default: the local demo tenant's)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    dry_run = actions.add_parser("dry-run", help="who a send would include and exclude, and the fine exposure")
    dry_run.add_argument("campaign_id")
    send = actions.add_parser("send", help="send the campaign")
    send.add_argument("campaign_id")
    send.add_argument("--follow", action="store_true", help="show a progress bar until the send is done")
    status = actions.add_parser("status", help="a campaign's status and counts")
    status.add_argument("campaign_id")
    status.add_argument("--follow", action="store_true", help="show a progress bar until the send is done")
    for sub in (send, status):
        sub.add_argument("--timeout", type=float, default=3600.0, help="stop following after this many seconds")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        client = _Client(*_endpoint(args))
        path = f"/v1/admin/campaigns/{args.campaign_id}"
        if args.action == "dry-run":
            print(json.dumps(client.request("POST", f"{path}/dry-run"), indent=2))
            return 0
        if args.action == "send":
            client.request("POST", f"{path}/send")
        view = client.request("GET", path)
        if not args.follow:
            print(json.dumps(view, indent=2))
            return 0
        return follow(lambda: client.request("GET", path), timeout=args.timeout, out=sys.stdout)
    except CliError as error:
        print(f"samtykke campaigns: {error}", file=sys.stderr)
        return 2


def follow(fetch: Any, *, timeout: float, out: TextIO, poll: float = POLL_SECONDS) -> int:
    """Redraws the progress line until the campaign is done (0) or `timeout` passes (1)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        view = fetch()
        line = progress_line(view)
        if out.isatty():
            out.write(f"\r{line}")
        elif line != last:
            out.write(f"{line}\n")
        out.flush()
        last = line
        if view.get("status") == "done":
            if out.isatty():
                out.write("\n")
            return 0
        if time.monotonic() >= deadline:
            if out.isatty():
                out.write("\n")
            return 1
        time.sleep(poll)


def progress_line(view: dict[str, Any]) -> str:
    counts = view.get("counts") or {}
    share = float(view.get("progress") or 0.0)
    filled = round(share * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    processed = sum(int(counts.get(k, 0)) for k in ("sent", "skipped", "failed"))
    return (
        f"[{bar}] {share:6.1%} {view.get('status', '?'):<11} {processed}/{counts.get('queued', 0)} "
        f"sent {counts.get('sent', 0)} skipped {counts.get('skipped', 0)} failed {counts.get('failed', 0)}"
    )


def _endpoint(args: argparse.Namespace) -> tuple[str, str]:
    url = args.api_url or os.environ.get("SAMTYKKE_API_URL")
    key = args.api_key or os.environ.get("SAMTYKKE_API_KEY")
    if (not url or not key) and LOCAL_JSON.exists():
        local = json.loads(LOCAL_JSON.read_text(encoding="utf-8"))
        url = url or local.get("api_url")
        key = key or local.get("admin_api_key")
    if not url or not key:
        raise CliError("no API: pass --api-url and --api-key, set SAMTYKKE_API_URL/SAMTYKKE_API_KEY, or run it local")
    if urlsplit(url).scheme not in ("http", "https"):
        raise CliError(f"not an HTTP URL: {url}")
    return url.rstrip("/"), key


class _Client:
    def __init__(self, api_url: str, api_key: str) -> None:
        self._url = api_url
        self._key = api_key

    def request(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in _endpoint
            f"{self._url}{path}", method=method, headers={"Authorization": f"Bearer {self._key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                body: dict[str, Any] = json.loads(response.read() or b"{}")
                return body
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read()).get("error", {})
            except ValueError:
                detail = {}
            raise CliError(
                f"{method} {path}: {error.code} {detail.get('code', '')} {detail.get('message', '')}"
            ) from error
        except urllib.error.URLError as error:
            raise CliError(f"cannot reach {self._url}: {error.reason}") from error
