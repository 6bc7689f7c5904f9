"""Merge fields in campaign content: `Hello {first_name}`, checked when the campaign is made, filled when it is sent.

Only plain names from a fixed list are fields. No attribute access, indexing, conversion or format spec (so
`{first_name.__class__}` or `{0}` is refused, not evaluated), and `{{` / `}}` stand for literal braces. Values put
into HTML are escaped; values put into a subject lose their line breaks.

Pure: no I/O.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterable, Mapping

from samtykke.domain.consent import Channel
from samtykke.domain.errors import InvalidInput

# What each channel's content may use. The unsubscribe and preference links exist only in email; an SMS carries the
# tenant's opt-out hint instead.
MERGE_FIELDS: dict[Channel, frozenset[str]] = {
    Channel.EMAIL: frozenset({"first_name", "last_name", "tenant", "unsubscribe_url", "preferences_url"}),
    Channel.SMS: frozenset({"first_name", "last_name", "tenant"}),
}

_FORMATTER = string.Formatter()


class UnknownMergeField(InvalidInput):
    code = "unknown_merge_field"


class InvalidTemplate(InvalidInput):
    code = "invalid_template"


def _parts(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise InvalidTemplate(f"Unbalanced braces in content: {exc}; write {{{{ and }}}} for literal braces") from exc


def merge_fields(template: str, allowed: Iterable[str], *, where: str = "content") -> set[str]:
    """The fields `template` uses; raises a coded 422 for an unknown or malformed one."""
    permitted = frozenset(allowed)
    used: set[str] = set()
    for _, name, spec, conversion in _parts(template):
        if name is None:
            continue
        if not name or spec or conversion or not name.isidentifier():
            raise InvalidTemplate(
                f"{where}: '{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}' is not a "
                f"merge field; use one of {sorted(permitted)}"
            )
        if name not in permitted:
            raise UnknownMergeField(f"{where}: unknown merge field '{{{name}}}'; use one of {sorted(permitted)}")
        used.add(name)
    return used


def render(
    template: str, values: Mapping[str, str | None], *, escape_html: bool = False, one_line: bool = False
) -> str:
    """Fills the fields of a checked template. A missing value is empty; HTML values are escaped."""
    out: list[str] = []
    for literal, name, _, _ in _parts(template):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name) or ""
        if one_line:
            value = " ".join(value.split())
        out.append(html.escape(value, quote=True) if escape_html else value)
    return "".join(out)
