"""Pure domain rules: no sockets, no AWS."""

from __future__ import annotations

from datetime import date

import pytest

from samtykke.domain import tokens
from samtykke.domain.addresses import normalise_email, normalise_phone
from samtykke.domain.age import age_of_digital_consent, is_minor
from samtykke.domain.consent import Channel, ConsentStatus, aggregate_status, capture_status
from samtykke.domain.defaults import resolve_locale
from samtykke.domain.errors import InvalidInput
from samtykke.domain.ledger import GENESIS_HASH, chain_hash, first_broken_link
from samtykke.models.consent import ConsentSubmission

pytestmark = pytest.mark.unit


class TestAgeOfDigitalConsent:
    @pytest.mark.parametrize(
        ("country", "age"),
        [
            ("DK", 13),
            ("SE", 13),
            ("NO", 13),
            ("FI", 13),
            ("NL", 16),
            ("DE", 16),
            ("IE", 16),
            ("FR", 15),
            ("AT", 14),
            ("IT", 14),
            ("ES", 14),
            ("PL", 16),
        ],
    )
    def test_each_country_has_its_age(self, country: str, age: int) -> None:
        assert age_of_digital_consent(country, date(2026, 1, 1)) == age

    def test_a_rule_applies_only_from_its_effective_date(self) -> None:
        assert age_of_digital_consent("FI", date(2018, 12, 31)) == 16
        assert age_of_digital_consent("FI", date(2019, 1, 1)) == 13

    def test_the_birthday_itself_counts(self) -> None:
        assert is_minor(date(2013, 6, 2), "DK", date(2026, 6, 1))
        assert not is_minor(date(2013, 6, 1), "DK", date(2026, 6, 1))

    def test_the_same_age_is_a_minor_in_the_netherlands(self) -> None:
        assert is_minor(date(2011, 1, 1), "NL", date(2026, 6, 1))
        assert not is_minor(date(2011, 1, 1), "DK", date(2026, 6, 1))

    def test_unknown_birth_date_is_not_a_minor(self) -> None:
        assert not is_minor(None, "DK", date(2026, 6, 1))


class TestCaptureStatus:
    def test_a_minor_waits_for_a_parent_whatever_the_channel(self) -> None:
        for channel in Channel:
            assert capture_status(channel=channel, double_opt_in=False, is_minor=True) is ConsentStatus.PENDING_PARENTAL

    def test_double_opt_in_applies_to_email_and_sms(self) -> None:
        assert capture_status(channel=Channel.EMAIL, double_opt_in=True, is_minor=False) is ConsentStatus.PENDING
        assert capture_status(channel=Channel.SMS, double_opt_in=True, is_minor=False) is ConsentStatus.PENDING
        assert capture_status(channel=Channel.PHONE, double_opt_in=True, is_minor=False) is ConsentStatus.GRANTED

    def test_the_least_settled_channel_decides_a_purposes_status(self) -> None:
        assert aggregate_status([ConsentStatus.GRANTED, ConsentStatus.PENDING]) is ConsentStatus.PENDING
        assert aggregate_status([ConsentStatus.GRANTED]) is ConsentStatus.GRANTED


class TestAddresses:
    def test_emails_are_lower_cased_and_trimmed(self) -> None:
        assert normalise_email("  Anna.Berg@Example.DK ") == "anna.berg@example.dk"

    @pytest.mark.parametrize("raw", ["anna", "anna@", "@example.dk", "anna@@example.dk", "anna example@x.dk"])
    def test_malformed_emails_are_refused_with_a_code(self, raw: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            normalise_email(raw)
        assert caught.value.code == "invalid_email"

    def test_local_numbers_use_the_tenants_country(self) -> None:
        assert normalise_phone("20 12 34 56", "DK") == "+4520123456"
        assert normalise_phone("070-123 45 67", "SE") == "+46701234567"
        assert normalise_phone("+31 6 12345678", "DK") == "+31612345678"

    @pytest.mark.parametrize("raw", ["12", "not a number", "+45 1"])
    def test_malformed_numbers_are_refused_with_a_code(self, raw: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            normalise_phone(raw, "DK")
        assert caught.value.code == "invalid_phone"


class TestHashChain:
    def _chain(self, n: int) -> list[dict[str, object]]:
        records, prev = [], GENESIS_HASH
        for seq in range(1, n + 1):
            record: dict[str, object] = {"seq": seq, "type": "grant", "purpose": "p", "prev_hash": prev}
            record["hash"] = prev = chain_hash(prev, record)
            records.append(record)
        return records

    def test_an_untouched_chain_verifies(self) -> None:
        assert first_broken_link(self._chain(5)) is None

    def test_an_edited_event_breaks_the_chain_there(self) -> None:
        records = self._chain(5)
        records[2]["type"] = "withdraw"
        assert first_broken_link(records) == 3

    def test_a_removed_event_breaks_the_chain(self) -> None:
        records = self._chain(5)
        del records[1]
        assert first_broken_link(records) == 3

    def test_reordered_events_break_the_chain(self) -> None:
        records = self._chain(3)
        records[0], records[1] = records[1], records[0]
        assert first_broken_link(records) == 2


class TestTokens:
    KEY = b"k" * 32

    def test_a_token_round_trips(self) -> None:
        token = tokens.sign(self.KEY, "confirm", {"t": "acme", "c": "con_1", "exp": 2000})
        assert tokens.verify(self.KEY, "confirm", token, now=1000) == {"t": "acme", "c": "con_1", "exp": 2000}

    def test_an_altered_payload_is_refused(self) -> None:
        token = tokens.sign(self.KEY, "confirm", {"t": "acme", "c": "con_1"})
        forged = tokens.sign(b"x" * 32, "confirm", {"t": "acme", "c": "con_2"})
        spliced = forged.split(".")[0] + "." + token.split(".")[1]
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(self.KEY, "confirm", spliced, now=0)

    def test_a_token_for_one_use_never_verifies_for_another(self) -> None:
        token = tokens.sign(self.KEY, "confirm", {"t": "acme"})
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(self.KEY, "unsubscribe", token, now=0)

    def test_an_expired_token_is_refused_with_its_own_code(self) -> None:
        token = tokens.sign(self.KEY, "confirm", {"exp": 10})
        with pytest.raises(tokens.InvalidToken) as caught:
            tokens.verify(self.KEY, "confirm", token, now=11)
        assert caught.value.code == "token_expired"

    @pytest.mark.parametrize("garbage", ["", "abc", "!!!.???", "e30.", "bnVsbA.AAAA"])
    def test_garbage_is_refused_not_crashed_on(self, garbage: str) -> None:
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(self.KEY, "confirm", garbage, now=0)


class TestLocaleFallback:
    def test_the_requested_language_wins_when_available(self) -> None:
        assert resolve_locale("da-DK", ["da", "en"], "sv") == "da"

    def test_then_the_tenant_default_then_english(self) -> None:
        assert resolve_locale("fi", ["sv", "en"], "sv") == "sv"
        assert resolve_locale("fi", ["nl", "en"], "sv") == "en"
        assert resolve_locale(None, ["nl"], "sv") == "nl"


class TestFormPosts:
    def test_single_form_values_are_unwrapped_and_lists_kept(self) -> None:
        form = {"email": ["a@example.dk"], "purpose": ["e-marketing"], "locale": ["da"], "first_name": [""]}
        submission = ConsentSubmission.model_validate(form)
        assert submission.email == "a@example.dk"
        assert submission.purpose == ["e-marketing"]
        assert submission.first_name is None

    def test_repeated_purposes_become_a_list(self) -> None:
        submission = ConsentSubmission.model_validate({"email": ["a@x.dk"], "purpose": ["a", "b"]})
        assert submission.purpose == ["a", "b"]
