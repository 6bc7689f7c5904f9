"""SMS keywords: what an inbound message asks for (opt out, opt in, help, or nothing).

A keyword is the *whole* message. "STOP", " stop. " and "Stop!" are STOP; "Stop texting me" is not a keyword
at all, so a reply in a conversation never unsubscribes anyone by accident.

How a message is compared (`keyword_forms`):
1. Unicode NFKC, then `casefold()` (so "STOPP", "Stopp" and full-width "STOPP" are one word, and "ß" is "ss").
2. Invisible format characters (zero-width space, BOM, direction marks) are dropped.
3. Whitespace, punctuation and symbols (emoji included) at either end are trimmed; runs of whitespace
   inside become one space. Punctuation inside stays: "OPT-OUT" is a keyword, "OPT OUT" is not.
4. Nordic and German letters are folded two ways, because phones without those keys write them both ways:
   - transliterated: æ→ae, ø→oe, å→aa, ä→ae, ö→oe, ü→ue ("Hjaelp" is HJÆLP and HJÄLP);
   - stripped: æ→ae, ø→o, å→a, ä→a, ö→o, ü→u ("Hjalp" is HJÄLP, "Avsluta" is AVSLUTA).
   Any other accent is removed (NFKD without combining marks): "ARRÊT" is ARRET.
A message matches a keyword when the two share a folded form. No two keywords with different meanings may
share one; `defaults_conflict` and the admin service enforce that.

Pure code: no I/O.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

MAX_KEYWORD_LENGTH = 40
# A message longer than this cannot be a keyword; it is not even folded.
_MAX_MESSAGE_LENGTH = 4 * MAX_KEYWORD_LENGTH


class KeywordAction(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    CONFIRM = "confirm"  # confirms a pending SMS double opt-in; unlike OPT_IN it never lifts a STOP
    HELP = "help"
    NONE = "none"


@dataclass(frozen=True)
class Keyword:
    """A keyword, its action, the locale its replies default to, and the one purpose it is scoped to (or all)."""

    text: str
    action: KeywordAction
    locale: str | None = None
    purpose: str | None = None  # None: every SMS purpose

    @property
    def forms(self) -> frozenset[str]:
        return keyword_forms(self.text)


@dataclass(frozen=True)
class KeywordMatch:
    action: KeywordAction
    keyword: Keyword | None  # None when nothing matched

    @property
    def purpose(self) -> str | None:
        return self.keyword.purpose if self.keyword else None

    @property
    def locale(self) -> str | None:
        return self.keyword.locale if self.keyword else None


NO_MATCH = KeywordMatch(KeywordAction.NONE, None)


def _defaults(action: KeywordAction, words: Iterable[tuple[str, str | None]]) -> tuple[Keyword, ...]:
    return tuple(Keyword(word, action, locale) for word, locale in words)


# The defaults every tenant has. A locale is given where the word belongs to one language; international words
# (STOP, START, HELP, INFO…) reply in the contact's or the tenant's language.
DEFAULT_KEYWORDS: tuple[Keyword, ...] = (
    *_defaults(
        KeywordAction.OPT_OUT,
        [
            ("STOP", None),
            ("STOPALL", None),
            ("UNSUBSCRIBE", "en"),
            ("CANCEL", "en"),
            ("END", "en"),
            ("QUIT", "en"),
            ("REVOKE", "en"),
            ("OPTOUT", None),
            ("OPT-OUT", None),
            ("REMOVE", "en"),
            ("ARRET", None),  # French; replies use the contact's or tenant's language
            ("STOPP", None),  # Swedish, Norwegian and German alike
            ("AFMELD", "da"),
            ("AFMELDING", "da"),
            ("AVMELD", "nb"),
            ("AVSLUTA", "sv"),
            ("AFMELDEN", "nl"),
            ("UITSCHRIJVEN", "nl"),
            ("ABMELDEN", "de"),
        ],
    ),
    *_defaults(KeywordAction.OPT_IN, [("START", None), ("YES", "en"), ("UNSTOP", None)]),
    # "Ja" in Danish, Swedish, Norwegian, Dutch and German: the answer to a confirmation SMS (YES is OPT_IN above,
    # which confirms a pending opt-in too).
    *_defaults(KeywordAction.CONFIRM, [("JA", None)]),
    *_defaults(
        KeywordAction.HELP,
        [("HELP", None), ("INFO", None), ("HJÆLP", "da"), ("HJÄLP", "sv"), ("HJELP", "nb")],
    ),
)

_TRANSLITERATED = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue", "œ": "oe"})
_STRIPPED = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "a", "ö": "o", "ü": "u", "œ": "oe", "đ": "d"})


def _is_edge_noise(char: str) -> bool:
    return unicodedata.category(char)[0] in "PZS" or char.isspace()


def normalise_message(text: str) -> str:
    """Case-folded, invisible characters dropped, trimmed of space, punctuation and symbols, inner space collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    visible = "".join(c for c in folded if unicodedata.category(c) not in ("Cf", "Cc") or c.isspace())
    start, end = 0, len(visible)
    while start < end and _is_edge_noise(visible[start]):
        start += 1
    while end > start and _is_edge_noise(visible[end - 1]):
        end -= 1
    return " ".join(visible[start:end].split())


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def keyword_forms(text: str) -> frozenset[str]:
    """The folded forms a message or keyword is compared by; empty for a message too long to be a keyword."""
    if len(text) > _MAX_MESSAGE_LENGTH:
        return frozenset()
    normalised = unicodedata.normalize("NFC", normalise_message(text))
    if not normalised:
        return frozenset()
    return frozenset(
        {
            _without_accents(normalised.translate(_TRANSLITERATED)),
            _without_accents(normalised.translate(_STRIPPED)),
        }
    )


def keyword_id(text: str) -> str:
    """A stable id for a keyword, the same for every spelling that folds alike (used as its storage key)."""
    canonical = min(keyword_forms(text), default="")
    return "kw_" + hashlib.sha256(canonical.encode()).hexdigest()[:20]


def match_keyword(message: str, tenant_keywords: Iterable[Keyword] = ()) -> KeywordMatch:
    """The action the message asks for. Tenant keywords are checked first; they never share a form with a default."""
    forms = keyword_forms(message)
    if not forms:
        return NO_MATCH
    candidates = [k for k in (*tenant_keywords, *DEFAULT_KEYWORDS) if forms & k.forms]
    if not candidates:
        return NO_MATCH
    # The keyword spelled exactly as the message wins (HJÄLP is Swedish even though it folds like HJÆLP).
    exact = normalise_message(message)
    best = next((k for k in candidates if normalise_message(k.text) == exact), candidates[0])
    return KeywordMatch(best.action, best)


def conflicting_keyword(candidate: Keyword, existing: Iterable[Keyword]) -> Keyword | None:
    """The default or tenant keyword that already claims one of the candidate's forms, if any."""
    forms = candidate.forms
    return next((k for k in (*DEFAULT_KEYWORDS, *existing) if k.forms & forms), None)


def defaults_conflict() -> list[tuple[Keyword, Keyword]]:
    """Pairs of default keywords with different actions that share a form (there must be none)."""
    pairs = []
    for i, first in enumerate(DEFAULT_KEYWORDS):
        for second in DEFAULT_KEYWORDS[i + 1 :]:
            if first.action is not second.action and first.forms & second.forms:
                pairs.append((first, second))
    return pairs


# Twilio's Advanced Opt-Out names the kind of keyword it matched in `OptOutType`.
TWILIO_OPT_OUT_TYPES: dict[str, KeywordAction] = {
    "STOP": KeywordAction.OPT_OUT,
    "START": KeywordAction.OPT_IN,
    "HELP": KeywordAction.HELP,
}


def with_provider_verdict(match: KeywordMatch, opt_out_type: str | None) -> KeywordMatch:
    """A provider that matched a keyword itself (Twilio's Advanced Opt-Out sends `OptOutType`) decides the action.

    Our own match still supplies the scope and locale when it agrees on the action; otherwise the change covers
    every SMS purpose, and the provider's keyword type is what the log records.
    """
    provider_action = TWILIO_OPT_OUT_TYPES.get((opt_out_type or "").strip().upper())
    if provider_action is None or provider_action is match.action:
        return match
    return KeywordMatch(provider_action, Keyword((opt_out_type or "").strip().upper(), provider_action))
