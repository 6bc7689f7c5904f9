"""How deep a JSON body may nest, measured on the raw text before any parser sees it.

Python's `json` recurses once per nesting level, so a 2 KB body of `[[[[…` exhausts the stack (a 500) long
before any size limit bites. No request model of ours nests deeper than a handful of levels.
"""

from __future__ import annotations

import re
from itertools import accumulate

MAX_JSON_DEPTH = 32

# A JSON string (escapes included); its brackets are text, not nesting.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (0 for a scalar). Malformed JSON gets an estimate."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", body))
    return max(accumulate(_STEP[b] for b in brackets), default=0)
