"""The SMS keyword engine: whole-message keywords, case and accent tolerant, with tenant keywords and scopes."""

from __future__ import annotations

import pytest

from samtykke.domain.sms_keywords import (
    DEFAULT_KEYWORDS,
    Keyword,
    KeywordAction,
    conflicting_keyword,
    defaults_conflict,
    keyword_forms,
    keyword_id,
    match_keyword,
    with_provider_verdict,
)

pytestmark = pytest.mark.unit

OPT_OUT = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT-OUT",
    "REMOVE",
    "ARRET",
    "STOPP",
    "AFMELD",
    "AFMELDING",
    "AVMELD",
    "AVSLUTA",
    "AFMELDEN",
    "UITSCHRIJVEN",
    "ABMELDEN",
]
OPT_IN = ["START", "YES", "UNSTOP"]
HELP = ["HELP", "INFO", "HJÆLP", "HJÄLP", "HJELP"]


def test_the_defaults_are_exactly_the_listed_keywords() -> None:
    by_action = {action: [k.text for k in DEFAULT_KEYWORDS if k.action is action] for action in KeywordAction}
    assert by_action[KeywordAction.OPT_OUT] == OPT_OUT
    assert by_action[KeywordAction.OPT_IN] == OPT_IN
    assert by_action[KeywordAction.HELP] == HELP
    assert defaults_conflict() == []


@pytest.mark.parametrize(
    ("words", "action"), [(OPT_OUT, KeywordAction.OPT_OUT), (OPT_IN, KeywordAction.OPT_IN), (HELP, KeywordAction.HELP)]
)
def test_every_default_matches_in_any_case_and_with_space_and_punctuation_around(
    words: list[str], action: KeywordAction
) -> None:
    for word in words:
        for spelling in (
            word,
            word.lower(),
            word.title(),
            f"  {word.lower()}\n",
            f"{word}!",
            f"{word.lower()}.",
            f'"{word}"',
        ):
            match = match_keyword(spelling)
            assert match.action is action, spelling
            assert match.keyword is not None
            assert match.purpose is None  # defaults cover every SMS purpose


@pytest.mark.parametrize(
    ("message", "keyword", "locale"),
    [
        ("hjælp", "HJÆLP", "da"),
        ("Hjælp", "HJÆLP", "da"),
        ("Hjaelp", "HJÆLP", "da"),  # Æ written as AE
        ("HJÄLP", "HJÄLP", "sv"),
        ("hjälp", "HJÄLP", "sv"),
        ("Hjalp", "HJÄLP", "sv"),  # Ä written without its dots
        ("hjelp", "HJELP", "nb"),
        ("Avsluta", "AVSLUTA", "sv"),
        ("afmeld", "AFMELD", "da"),
        ("Abmelden", "ABMELDEN", "de"),
        ("uitschrijven", "UITSCHRIJVEN", "nl"),
        ("ARRÊT", "ARRET", None),  # other accents are dropped
        ("Arrêt", "ARRET", None),
        ("\uff33\uff34\uff2f\uff30", "STOP", None),  # full-width letters (NFKC)
        ("st\u200bop", "STOP", None),  # an invisible zero-width space
        ("\u202bSTOP\u202c", "STOP", None),  # direction marks
        ("🛑 Stop 🛑", "STOP", None),  # emoji at the edges
        ("stopp", "STOPP", None),
    ],
)
def test_unicode_case_and_nordic_letters_fold_both_ways(message: str, keyword: str, locale: str | None) -> None:
    match = match_keyword(message)
    assert match.keyword is not None, message
    assert (match.keyword.text, match.locale) == (keyword, locale)


def test_danish_and_swedish_letters_fold_to_both_spellings() -> None:
    assert keyword_forms("HJÆLP") == {"hjaelp"}
    assert keyword_forms("HJÄLP") == {"hjaelp", "hjalp"}
    assert keyword_forms("Blåbær Øl") == {"blaabaer oel", "blabaer ol"}
    assert keyword_forms("Größe") == {"groesse", "grosse"}


@pytest.mark.parametrize(
    "message",
    [
        "Stop texting me",
        "please stop",
        "STOP STOP",
        "STOPS",
        "STO P",
        "S T O P",
        "STOPPE",
        "UNSTOPPABLE",
        "ST0P",  # a zero, not an O
        "OPT OUT",
        "OPTOUTS",
        "START NOW",
        "STARTS",
        "RESTART",
        "YESS",
        "YES PLEASE",
        "HELPME",
        "HELP ME",
        "INFOS",
        "HJLP",
        "AFMELDT",
        "AVSLUT",
        "QUITE",
        "ENDE",
        "ABMELDUNG",
        "",
        "   ",
        "!!!",
        "STOP" * 50,
    ],
)
def test_near_misses_are_not_keywords(message: str) -> None:
    assert match_keyword(message).action is KeywordAction.NONE


def test_a_tenant_keyword_can_be_scoped_to_one_purpose_and_carries_its_locale() -> None:
    news_stop = Keyword("NYHEDER STOP", KeywordAction.OPT_OUT, "da", "e-marketing")
    news_start = Keyword("Nyheder start", KeywordAction.OPT_IN, "da", "e-marketing")

    match = match_keyword("  nyheder   stop ", [news_stop, news_start])
    assert (match.action, match.purpose, match.locale) == (KeywordAction.OPT_OUT, "e-marketing", "da")
    assert match_keyword("NYHEDER START", [news_stop, news_start]).action is KeywordAction.OPT_IN
    # The defaults still work next to tenant keywords, and stay global.
    assert match_keyword("stop", [news_stop]).purpose is None
    assert match_keyword("nyheder stop please", [news_stop]).action is KeywordAction.NONE


def test_a_tenant_keyword_may_not_read_like_a_default_or_another_keyword() -> None:
    existing = [Keyword("NYHEDER STOP", KeywordAction.OPT_OUT, "da", "e-marketing")]
    for text in ("Stop", "hjalp", "Arrêt", "nyheder stop", "NYHEDER  STOP!"):
        assert conflicting_keyword(Keyword(text, KeywordAction.OPT_IN, "da"), existing) is not None, text
    assert conflicting_keyword(Keyword("AFMELD NYHEDER", KeywordAction.OPT_OUT, "da"), existing) is None


def test_keyword_ids_are_the_same_for_spellings_that_fold_alike() -> None:
    assert keyword_id("Nyheder Stop") == keyword_id("  NYHEDER STOP! ")
    assert keyword_id("Blåbær") == keyword_id("BLÅBÆR")
    assert keyword_id("Nyheder Stop") != keyword_id("Nyheder Start")
    assert keyword_id("x").startswith("kw_")


@pytest.mark.parametrize(
    ("body", "opt_out_type", "action", "purpose", "keyword"),
    [
        ("STOP", "STOP", KeywordAction.OPT_OUT, None, "STOP"),  # agree: our match stands
        ("Nyheder stop", "STOP", KeywordAction.OPT_OUT, "e-marketing", "NYHEDER STOP"),  # agree: our scope stands
        ("Stop please", "STOP", KeywordAction.OPT_OUT, None, "STOP"),  # Twilio matched a keyword we do not know
        ("START", "start", KeywordAction.OPT_IN, None, "START"),
        ("anything", "HELP", KeywordAction.HELP, None, "HELP"),
        ("STOP", None, KeywordAction.OPT_OUT, None, "STOP"),  # no verdict: ours
        ("STOP", "SOMETHING", KeywordAction.OPT_OUT, None, "STOP"),  # an unknown verdict is ignored
    ],
)
def test_twilio_opt_out_type_decides_the_action(
    body: str, opt_out_type: str | None, action: KeywordAction, purpose: str | None, keyword: str
) -> None:
    tenant = [Keyword("NYHEDER STOP", KeywordAction.OPT_OUT, "da", "e-marketing")]
    match = with_provider_verdict(match_keyword(body, tenant), opt_out_type)
    assert match.action is action
    assert match.purpose == purpose
    assert match.keyword is not None
    assert match.keyword.text == keyword
