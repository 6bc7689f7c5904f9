"""`samtykke list KIND`: a table of the tenant's contacts, purposes, texts, sources, campaigns, imports, users, keys.

    samtykke list purposes
    samtykke list contacts --purpose e-marketing --channel email --status withdrawn
    samtykke list campaigns --purpose e-marketing
    samtykke list texts --purpose e-marketing --locale da     # every version: the history

Paged lists are followed to the end (`--limit` rows per request). The API and key come from `--api-url`/`--api-key`,
else SAMTYKKE_API_URL/SAMTYKKE_API_KEY, else the running local stack's `.samtykke/local.json`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from samtykke.cli_http import ApiClient, CliError, add_endpoint_arguments, client


@dataclass(frozen=True)
class Listing:
    path: str
    columns: tuple[str, ...]
    key: str | None = None  # the list's field in a paged answer; None for an answer that is the list itself
    filters: tuple[str, ...] = ()


LISTINGS = {
    "contacts": Listing(
        "/v1/admin/contacts",
        ("contact_id", "email", "phone", "first_name", "last_name", "status", "created_at"),
        key="contacts",
        filters=("purpose", "channel", "status", "name_prefix", "created_from", "created_to"),
    ),
    "purposes": Listing("/v1/admin/purposes", ("purpose_id", "active", "channels", "double_opt_in", "marketing")),
    "texts": Listing(
        "/v1/admin/consent-texts",
        ("purpose_id", "locale", "version", "created_at", "text"),
        filters=("purpose", "locale"),
    ),
    "sources": Listing("/v1/admin/sources", ("source_id", "label", "active")),
    "campaigns": Listing(
        "/v1/admin/campaigns",
        ("campaign_id", "name", "purpose", "channel", "status", "created_at"),
        key="campaigns",
        filters=("purpose", "channel"),
    ),
    "imports": Listing("/v1/admin/imports", ("import_id", "status", "created_at"), key="imports"),
    "users": Listing("/v1/admin/users", ("user_id", "email", "role", "status", "mfa_enabled")),
    "api-keys": Listing("/v1/admin/api-keys", ("key_id", "label", "role", "revoked", "created_at")),
}
MAX_CELL = 48


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("list", help="print a table of the tenant's purposes, campaigns, users, …")
    parser.add_argument("kind", choices=sorted(LISTINGS))
    parser.add_argument("--limit", type=int, default=50, help="rows per request on paged lists")
    for name in sorted({name for listing in LISTINGS.values() for name in listing.filters}):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, help=f"only rows with this {name}")
    add_endpoint_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    listing = LISTINGS[args.kind]
    try:
        rows = fetch(client(args), listing, {name: getattr(args, name) for name in listing.filters}, args.limit)
    except CliError as error:
        print(f"samtykke list: {error}", file=sys.stderr)
        return 2
    print(table(rows, listing.columns))
    return 0


def fetch(api: ApiClient, listing: Listing, filters: dict[str, str | None], limit: int) -> list[dict[str, Any]]:
    if listing.key is None:
        rows: list[dict[str, Any]] = api.get(listing.path, filters)
        return rows
    rows, cursor = [], None
    while True:
        page = api.get(listing.path, filters | {"limit": limit, "cursor": cursor})
        rows += page[listing.key]
        cursor = page.get("next_cursor")
        if not cursor:
            return rows


def table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    lines = [columns, tuple("-" * width for width in widths), *cells]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _cell(value: Any) -> str:
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    text = "" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
