"""Pure rules of change events and webhooks: the CloudEvents mapping, signing, the retry schedule, the SSRF guard."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from samtykke.domain.events import StreamChange, change_events
from samtykke.domain.webhooks import (
    RetryPolicy,
    WebhookUrlRefused,
    address_refused,
    check_resolved,
    check_url,
    new_secret,
    signed_headers,
)

pytestmark = pytest.mark.unit

EVENT = {
    "pk": "T#acme#C#con_1",
    "sk": "EVENT#0000000002",
    "event_id": "evt_2",
    "contact_id": "con_1",
    "seq": 2,
    "type": "withdraw",
    "purpose": "e-marketing",
    "channel": "email",
    "status": "withdrawn",
    "legal_basis": "withdrawn",
    "source": "unsubscribe-link",
    "actor": {"type": "contact"},
    "at": "2026-12-02T10:00:00+00:00",
    "hash": "ab" * 32,
    "evidence": "c2VhbGVk",
}


def change(name: str, old: dict | None, new: dict | None) -> StreamChange:  # type: ignore[type-arg]
    return StreamChange("rec-1", name, "2026-12-02T10:00:01+00:00", old, new)


def test_a_withdrawal_event_becomes_a_cloudevent_without_evidence() -> None:
    (event,) = change_events(change("INSERT", None, EVENT))
    envelope = event.cloudevent()
    assert envelope["type"] == "dk.samtykke.consent.withdrawn"
    assert (envelope["id"], envelope["subject"], envelope["specversion"]) == ("evt_2", "con_1", "1.0")
    assert envelope["data"]["tenant"] == "acme"
    assert envelope["data"]["hash"] == "ab" * 32
    assert "evidence" not in envelope["data"]
    assert event.in_feed


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("grant", "granted", "granted"),
        ("grant", "pending", "requested"),
        ("confirm", "granted", "confirmed"),
        ("basis_change", "granted", "legal_basis_changed"),
        ("erase", "withdrawn", "erased"),
    ],
)
def test_each_kind_of_consent_change_has_its_type(kind: str, status: str, expected: str) -> None:
    (event,) = change_events(change("INSERT", None, EVENT | {"type": kind, "status": status}))
    assert event.type == f"dk.samtykke.consent.{expected}"


def test_rewriting_an_event_item_or_writing_states_publishes_nothing() -> None:
    assert change_events(change("MODIFY", EVENT, EVENT)) == []
    assert change_events(change("INSERT", None, {"pk": "T#acme#C#con_1", "sk": "STATE#e-marketing#email"})) == []
    assert change_events(change("INSERT", None, {"pk": "T#acme", "sk": "META"})) == []


def test_suppressions_added_and_lifted_are_one_event_per_key_with_a_stable_id() -> None:
    old = {
        "pk": "T#acme#A#phone#bidx",
        "sk": "ADDR",
        "contact_id": "con_1",
        "suppressions": {"sms#*": {"reason": "sms_stop"}},
    }
    new = {**old, "suppressions": {"email#news": {"reason": "unsubscribed", "at": "2026-12-02T10:00:00+00:00"}}}
    events = change_events(change("MODIFY", old, new))
    assert [(e.type, e.data["channel"], e.data["purpose"]) for e in events] == [
        ("dk.samtykke.suppression.added", "email", "news"),
        ("dk.samtykke.suppression.lifted", "sms", "*"),
    ]
    assert [e.id for e in events] == [e.id for e in change_events(change("MODIFY", old, new))]
    assert events[0].id != events[1].id


def test_erasure_imports_and_campaigns_are_published_once_when_they_finish() -> None:
    profile = {"pk": "T#acme#C#con_1", "sk": "PROFILE", "erased": False}
    (erased,) = change_events(change("MODIFY", profile, {**profile, "erased": True}))
    assert (erased.type, erased.subject) == ("dk.samtykke.contact.erased", "con_1")
    assert change_events(change("MODIFY", {**profile, "erased": True}, {**profile, "erased": True})) == []
    running = {"pk": "T#acme#IMP#imp_1", "sk": "IMPORT", "status": "running"}
    (finished,) = change_events(
        change("MODIFY", running, {**running, "status": "completed", "counts": {"imported": 3}})
    )
    assert (finished.type, finished.data["counts"]) == ("dk.samtykke.import.finished", {"imported": 3})
    assert not finished.in_feed
    sending = {"pk": "T#acme#CAMPAIGN#cmp_1", "sk": "META", "status": "sending"}
    (done,) = change_events(change("MODIFY", sending, {**sending, "status": "done", "n_sent": 9}))
    assert (done.type, done.data["counts"]) == ("dk.samtykke.campaign.finished", {"n_sent": 9})


def test_signatures_verify_with_the_reference_library_with_each_live_secret() -> None:
    old, new = new_secret(), new_secret()
    body = '{"id":"evt_1","type":"dk.samtykke.consent.withdrawn"}'
    headers = signed_headers([new, old], "evt_1", int(datetime.now(UTC).timestamp()), body)
    assert Webhook(new).verify(body, headers)["id"] == "evt_1"
    assert Webhook(old).verify(body, headers)["id"] == "evt_1"  # the overlap window: the old secret still works
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new).verify(body.replace("withdrawn", "granted"), headers)


def test_the_retry_schedule_grows_with_jitter_and_lasts_at_least_24_hours() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    elapsed, failures, delays = 0.0, 0, []
    while (delay := policy.next_delay(failures + 1, elapsed, rng)) is not None:
        failures += 1
        delays.append(delay)
        elapsed += delay
    assert elapsed >= 24 * 3600
    assert delays[:6] == sorted(delays[:6])  # exponential at first
    assert max(delays) <= policy.cap_seconds
    assert len({policy.delay(3, random.Random(seed)) for seed in range(20)}) > 1  # jittered
    assert all(10 <= policy.delay(3, random.Random(seed)) <= 20 for seed in range(20))


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "127.0.0.1",
        "::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(address: str) -> None:
    assert address_refused(address)
    with pytest.raises(WebhookUrlRefused):
        check_resolved(["93.184.215.14", address], allow_private=False)


def test_public_addresses_pass_and_the_local_stack_may_use_private_ones() -> None:
    assert not address_refused("93.184.215.14")
    assert not address_refused("2a00:1450:4001:80b::200e")
    assert check_resolved(["127.0.0.1"], allow_private=True) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "url", ["http://crm.example.com/h", "ftp://crm.example.com", "https://user:pw@crm.example.com/"]
)
def test_only_plain_https_urls_are_accepted_in_the_cloud(url: str) -> None:
    with pytest.raises(WebhookUrlRefused):
        check_url(url, allow_insecure=False)
    assert check_url("https://crm.example.com:8443/h", allow_insecure=False) == ("https", "crm.example.com", 8443)
