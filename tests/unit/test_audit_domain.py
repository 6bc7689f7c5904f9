"""The audit log's pure rules: the hash chain and its verifier, route actions, before/after values."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from samtykke.domain.audit import clean_details, route_action, route_target
from samtykke.domain.audit.chain import GENESIS_HASH, first_broken_entry, seal_record, serialise, verify_month
from samtykke.domain.audit.changes import describe_changes
from samtykke.domain.ledger import first_broken_link


def month_of(n: int) -> list[dict[str, Any]]:
    records, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        entry = {"action": "settings.updated", "at": f"2026-12-0{i}T10:00:00+00:00"}
        record = seal_record(entry, seq=i, prev_hash=prev)
        records.append(record)
        prev = record["hash"]
    return records


def test_a_sealed_month_verifies_with_the_consent_logs_own_verifier_and_by_hand() -> None:
    records = month_of(4)
    assert first_broken_entry(records) is None
    assert first_broken_link(records) is None  # the consent log's verifier, unchanged
    # A third party needs only SHA-256 and the documented format: hash = sha256(prev_hash || canonical JSON)
    second = records[1]
    body = {k: v for k, v in second.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(records[0]["hash"].encode() + canonical).hexdigest() == second["hash"]


@pytest.mark.parametrize(
    ("attack", "broken_at"),
    [
        ("edit an entry's action", 2),
        ("remove an entry from the middle", 2),
        ("remove the first entry", 1),
        ("swap two entries' places", 2),
        ("re-hash an edited entry", 3),
    ],
)
def test_every_tampering_is_found_at_the_entry_it_touched(attack: str, broken_at: int) -> None:
    records = month_of(4)
    if attack == "edit an entry's action":
        records[1] = {**records[1], "action": "auth.login"}
    elif attack == "remove an entry from the middle":
        del records[1]
    elif attack == "remove the first entry":
        del records[0]
    elif attack == "swap two entries' places":
        records[1], records[2] = {**records[2], "seq": 2}, {**records[1], "seq": 3}
    else:  # an insider edits entry 2 and recomputes its hash: entry 3 no longer follows it
        edited = seal_record({**records[1], "action": "auth.login"}, seq=2, prev_hash=records[0]["hash"])
        records[1] = edited
    assert first_broken_entry(records) == broken_at


def test_a_days_file_verifies_from_the_entry_before_it() -> None:
    records = month_of(5)
    day = records[2:]
    assert first_broken_entry(day) == 1  # not a whole month
    assert first_broken_entry(day, after_seq=2, after_hash=records[1]["hash"]) is None
    assert first_broken_entry(day, after_seq=2, after_hash=records[0]["hash"]) == 3


def test_the_jsonl_export_is_the_hashed_records_line_by_line() -> None:
    records = month_of(3)
    text = "".join(serialise(r) + "\n" for r in records)
    assert verify_month(text) is None
    assert verify_month(text.replace("settings.updated", "settings.deleted", 1)) == 1


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", "/v1/admin/purposes", "purposes.create"),
        ("PATCH", "/v1/admin/purposes/{purpose_id}", "purposes.update"),
        ("DELETE", "/v1/admin/sms/keywords/{keyword_id}", "sms.keywords.delete"),
        ("PUT", "/v1/admin/settings/sms/twilio", "settings.sms.twilio.set"),
        ("POST", "/v1/admin/contacts/{contact_id}/erase", "contacts.erase"),
        ("POST", "/v1/admin/settings/link-key/rotate", "settings.link-key.rotate.create"),
    ],
)
def test_a_route_without_a_named_action_gets_one_from_its_method_and_path(method: str, path: str, action: str) -> None:
    assert route_action(method, path) == action


def test_a_routes_target_is_its_contact_or_its_last_id() -> None:
    assert route_target({"contact_id": "con_1", "event_id": "evt_1"}) == ("contact", "con_1")
    assert route_target({"purpose_id": "news"}) == ("purpose", "news")
    assert route_target({}) is None


def test_changes_keep_plain_values_seal_sensitive_ones_and_never_show_secrets() -> None:
    sealed: list[tuple[str, Any]] = []

    def seal(name: str, value: Any) -> str:
        sealed.append((name, value))
        return f"sealed:{name}"

    changes = describe_changes(
        {"country": "DK", "auth_token": "tok-old", "national_id": "0101901234", "same": 1},
        {"country": "SE", "auth_token": "tok-new", "national_id": "0202901234", "same": 1},
        sensitive={"national_id"},
        seal=seal,
    )
    assert changes == [
        {"field": "auth_token", "secret": True},
        {"field": "country", "before": "DK", "after": "SE"},
        {"field": "national_id", "sealed": True, "before": "sealed:national_id", "after": "sealed:national_id"},
    ]
    assert "tok-" not in str(changes)
    assert "0101901234" not in str(changes)
    assert sealed == [("national_id", "0101901234"), ("national_id", "0202901234")]


def test_request_bodies_in_details_lose_every_credential() -> None:
    body = {"account_sid": "AC1", "auth_token": "t0ps3cret", "api_secret": "s", "signature_secret": "x", "a": "b"}
    assert clean_details({"request": body}) == {"request": {"account_sid": "AC1", "a": "b"}}
