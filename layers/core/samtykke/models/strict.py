"""Input types stricter than pydantic's defaults, for values that end up where lax parsing does harm.

- `HeaderSafeStr`: text that reaches a mail header or an HTTP header (tenant names, subjects, merge fields,
  redirect URLs). A CR or LF there breaks every mail (or injects headers), so it is refused when written, with a
  422 whose code is `header_unsafe`, rather than failing later when a mail is composed.
- `IsoDate`: a calendar date written `YYYY-MM-DD`. Pydantic's lax mode reads `0` as 1970-01-01.
"""

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

HEADER_UNSAFE = "header_unsafe"
# C0 controls (CR, LF, NUL, TAB…), DEL, and the Unicode line breaks that mail libraries also fold on.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_header_safe(value: str) -> bool:
    return _UNSAFE.search(value) is None


def header_safe(value: str) -> str:
    if not is_header_safe(value):
        raise PydanticCustomError(HEADER_UNSAFE, "Control characters and line breaks are not allowed here")
    return value


def iso_date(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise PydanticCustomError("date_format", "Write the date as YYYY-MM-DD")


HeaderSafeStr = Annotated[str, AfterValidator(header_safe)]
IsoDate = Annotated[date, BeforeValidator(iso_date)]
