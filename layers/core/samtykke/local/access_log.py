"""The local front's access log line, with the secrets some paths carry taken out.

Link tokens (unsubscribe, preferences, double opt-in, password reset and invitation links) are bearer
credentials in the path: anyone who reads the log could use them. Every route with a `{token}` segment is
redacted there, and so is any other segment shaped like one of our tokens (`sts_…`, `stk_…`, `a.b`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from samtykke.resources import ROUTES, RouteSpec

REDACTED = "[redacted]"
_TOKEN_SHAPED = re.compile(r"^(st[a-z]_[\w.-]+|[\w-]{16,}\.[\w-]{16,})$")


def _token_prefixes(routes: Iterable[RouteSpec]) -> tuple[str, ...]:
    return tuple(sorted({r.path.split("{token}", 1)[0] for r in routes if "{token}" in r.path}))


_TOKEN_PREFIXES = _token_prefixes(ROUTES)


def redact_path(path: str) -> str:
    for prefix in _TOKEN_PREFIXES:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + REDACTED
    return "/".join(REDACTED if _TOKEN_SHAPED.match(segment) else segment for segment in path.split("/"))
