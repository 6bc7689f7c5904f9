"""`samtykke imports`: declare, upload and start a lawful import, and follow its progress, over the admin API.

    samtykke imports create contacts.csv --purpose e-marketing --source import --legal-basis consent \\
        --description "Sign-ups on paper at the Copenhagen trade fair, March 2026" --wait
    samtykke imports status imp_… [--issues]

The API and key come from `--api-url`/`--api-key`, else SAMTYKKE_API_URL/SAMTYKKE_API_KEY, else the running local
stack's `.samtykke/local.json`. Only the standard library is used, so the command runs wherever samtykke does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

LOCAL_JSON = Path(".samtykke") / "local.json"
POLL_SECONDS = 1.0
FINISHED = ("completed", "failed")


class CliError(Exception):
    pass


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("imports", help="lawful imports: create, upload and start one, and follow it")
    parser.add_argument("--api-url", default=None, help="the API's base URL (default: the local stack's)")
    parser.add_argument("--api-key", default=None, help="an admin API key (default: the local demo tenant's)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="declare an import, upload its CSV and start it")
    create.add_argument("file", type=Path, help="the CSV (header row: email, phone, first_name, last_name, …)")
    create.add_argument("--purpose", action="append", required=True, help="a purpose the import grants (repeatable)")
    create.add_argument("--source", required=True, help="the catalogue source the addresses came from")
    create.add_argument(
        "--legal-basis", default=None, help="consent, contract, …; default: each purpose's default basis"
    )
    create.add_argument("--description", required=True, help="how the addresses were lawfully obtained")
    create.add_argument("--locale", default=None, help="the consent texts' locale")
    create.add_argument("--no-start", action="store_true", help="upload only; start it later")
    create.add_argument("--wait", action="store_true", help="follow the import until it finishes")

    status = actions.add_parser("status", help="an import's progress")
    status.add_argument("import_id")
    status.add_argument("--issues", action="store_true", help="also list its bad and skipped rows")
    status.add_argument("--wait", action="store_true", help="follow the import until it finishes")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        api_url, api_key = _endpoint(args)
        client = _Client(api_url, api_key)
        import_id = _create(client, args) if args.action == "create" else args.import_id
        view = client.request("GET", f"/v1/admin/imports/{import_id}")
        while args.wait and view["status"] not in FINISHED and view["status"] != "awaiting_upload":
            _print_progress(view)
            time.sleep(POLL_SECONDS)
            view = client.request("GET", f"/v1/admin/imports/{import_id}")
        _print_progress(view)
        if getattr(args, "issues", False) or (args.wait and view["counts"]["invalid"] + view["counts"]["skipped"]):
            _print_issues(client, import_id)
        return 1 if view["status"] == "failed" else 0
    except CliError as error:
        print(f"samtykke imports: {error}", file=sys.stderr)
        return 2


def _endpoint(args: argparse.Namespace) -> tuple[str, str]:
    url = args.api_url or os.environ.get("SAMTYKKE_API_URL")
    key = args.api_key or os.environ.get("SAMTYKKE_API_KEY")
    if (not url or not key) and LOCAL_JSON.exists():
        local = json.loads(LOCAL_JSON.read_text(encoding="utf-8"))
        url, key = url or local.get("api_url"), key or local.get("admin_api_key")
    if not url or not key:
        raise CliError("give --api-url and --api-key (or run it next to a running `samtykke local`)")
    return str(url).rstrip("/"), str(key)


class _Client:
    def __init__(self, base_url: str, api_key: str) -> None:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise CliError(f"not an http(s) URL: {base_url}")
        self.base_url = base_url
        self.api_key = api_key

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return json.loads(_send(url, method, data, headers) or b"null")


def _send(url: str, method: str, data: bytes | None, headers: dict[str, str]) -> bytes:
    if urlsplit(url).scheme not in ("http", "https"):
        raise CliError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http(s) checked above
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        try:
            problem = json.loads(detail)["error"]
            detail = f"{problem['code']}: {problem['message']}"
        except (ValueError, KeyError, TypeError):
            pass
        raise CliError(
            f"{request.get_method()} {urlsplit(request.full_url).path} failed ({error.code}) {detail}"
        ) from None
    except urllib.error.URLError as error:
        raise CliError(f"cannot reach {request.full_url}: {error.reason}") from None


def _create(client: _Client, args: argparse.Namespace) -> str:
    if not args.file.is_file():
        raise CliError(f"no such file: {args.file}")
    content = args.file.read_bytes()
    body: dict[str, Any] = {
        "declaration": {"source": args.source, "description": args.description},
        "purposes": args.purpose,
        "file": {"size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()},
    }
    if args.legal_basis:
        body["declaration"]["legal_basis"] = args.legal_basis
    if args.locale:
        body["locale"] = args.locale
    created = client.request("POST", "/v1/admin/imports", body)
    upload = created["upload"]
    _send(upload["url"], upload["method"], content, upload["headers"])
    print(f"{created['import_id']}: uploaded {len(content)} bytes (declaration {created['declaration_id']})")
    if not args.no_start:
        client.request("POST", f"/v1/admin/imports/{created['import_id']}/start")
    return str(created["import_id"])


def _print_progress(view: dict[str, Any]) -> None:
    counts = view["counts"]
    summary = ", ".join(f"{name} {value}" for name, value in counts.items())
    problem = f" ({view['problem']})" if view.get("problem") else ""
    print(f"{view['import_id']}: {view['status']}{problem}; line {view['lines_read']}; {summary}", flush=True)


def _print_issues(client: _Client, import_id: str) -> None:
    cursor: str | None = None
    while True:
        query = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.request("GET", f"/v1/admin/imports/{import_id}/issues", query=query)
        for issue in page["issues"]:
            detail = f" ({issue['detail']})" if issue.get("detail") else ""
            print(f"  line {issue['line']}: {issue['kind']} {issue['code']}{detail}")
        cursor = page.get("next_cursor")
        if not cursor:
            return
