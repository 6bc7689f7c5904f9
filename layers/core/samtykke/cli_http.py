"""What the API-calling CLI commands share: where the API is, and a JSON client on the standard library.

The API and key come from `--api-url`/`--api-key`, else SAMTYKKE_API_URL/SAMTYKKE_API_KEY, else the running local
stack's `.samtykke/local.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

LOCAL_JSON = Path(".samtykke") / "local.json"


class CliError(Exception):
    pass


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", default=None, help="the API's base URL (default: the local stack's)")
    parser.add_argument("--api-key", default=None, help="an admin API key (default: the local demo tenant's)")


def local_stack() -> dict[str, Any]:
    """The running local stack's `.samtykke/local.json`, or {} when there is none here."""
    if not LOCAL_JSON.exists():
        return {}
    info: dict[str, Any] = json.loads(LOCAL_JSON.read_text(encoding="utf-8"))
    return info


def client(args: argparse.Namespace, *, needs_key: bool = True) -> ApiClient:
    local = local_stack()
    url = args.api_url or os.environ.get("SAMTYKKE_API_URL") or local.get("api_url")
    key = args.api_key or os.environ.get("SAMTYKKE_API_KEY") or local.get("admin_api_key")
    if not url or (needs_key and not key):
        raise CliError(
            "no API: run `make run` here first, pass --api-url and --api-key, or set SAMTYKKE_API_URL/SAMTYKKE_API_KEY"
        )
    if urlsplit(url).scheme not in ("http", "https"):
        raise CliError(f"not an HTTP URL: {url}")
    return ApiClient(url.rstrip("/"), key)


class ApiClient:
    def __init__(self, api_url: str, api_key: str | None) -> None:
        self.api_url = api_url
        self._key = api_key

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        params = {name: value for name, value in (query or {}).items() if value is not None}
        url = f"{self.api_url}{path}" + (f"?{urlencode(params)}" if params else "")
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the scheme is checked in client()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read()).get("error", {})
            except (ValueError, AttributeError):
                detail = {}
            raise CliError(f"GET {path}: {error.code} {detail.get('code', '')} {detail.get('message', '')}") from error
        except urllib.error.URLError as error:
            raise CliError(f"cannot reach {self.api_url}: {error.reason}") from error
