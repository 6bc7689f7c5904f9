"""Campaign email in bulk: SES v2 SendBulkEmail, 50 recipients a call, each with their own content and headers; and
the moto layer (samtykke/local/moto_ses_bulk.py) that delivers every entry to the local outbox as SES would."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest

from samtykke.adapters import aws as clients
from samtykke.adapters.campaign_senders import BULK_LIMIT, BulkMailer, BulkOutcome
from samtykke.domain.mail import OutgoingEmail
from samtykke.local.outbox import read_outbox, record_send_times
from samtykke.local.provision import Resources
from tests.bench.calls import counting, our_clients

pytestmark = pytest.mark.integration


def _message(i: int, *, sender: str, html: bool = False) -> tuple[OutgoingEmail, dict[str, str]]:
    link = f"https://consent.example.test/u/token-{i}"
    message = OutgoingEmail(
        sender=f"Acme A/S <{sender}>",
        to=f"r{i}@example.dk",
        subject=f"Nyheder til modtager {i}: æbler",
        text=f"Hej {i}\n{link}\n",
        html=f'<p>Hej <b>{i}</b> &amp; <a href="{link}">afmeld</a></p>' if html else None,
        headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    return message, {"tenant": "acme", "contact": f"c{i}"}


@pytest.fixture
def sender(aws: Resources) -> str:
    record_send_times()
    return os.environ["SAMTYKKE_SENDER_EMAIL"]


def test_120_recipients_go_out_in_calls_of_50_each_with_their_own_content_and_headers(sender: str) -> None:
    # Given 120 messages, a third of them with an HTML part
    items = [_message(i, sender=sender, html=i % 3 == 0) for i in range(120)]

    # When they are sent in bulk
    with counting(our_clients()) as counter:
        outcomes = BulkMailer().send_bulk(items)

    # Then every one has its own message id, in order, from ceil(80/50) + ceil(40/50) = 3 calls (one per template)
    assert all(o.message_id for o in outcomes)
    assert len({o.message_id for o in outcomes}) == 120
    assert counter.counts[("sesv2", "SendBulkEmail")] == 3
    assert BULK_LIMIT == 50
    # And the outbox shows each recipient's own message, with their own one-click unsubscribe link
    outbox = {entry["to"][0]: entry for entry in read_outbox()}
    assert len(outbox) == 120
    for i in (0, 1, 119):
        entry = outbox[f"r{i}@example.dk"]
        assert entry["message_id"] == outcomes[i].message_id
        assert entry["subject"] == f"Nyheder til modtager {i}: æbler"
        assert f"List-Unsubscribe: <https://consent.example.test/u/token-{i}>" in entry["raw"]
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in entry["raw"]
        assert entry["links"][0] == f"https://consent.example.test/u/token-{i}"
        assert (entry["html"] is not None) is (i % 3 == 0)
    assert "<b>0</b> &amp; " in outbox["r0@example.dk"]["html"]


def test_an_entry_ses_refuses_fails_alone(sender: str) -> None:
    # Given one message from an address SES has not verified among good ones
    items = [_message(0, sender=sender), _message(1, sender="stranger@unverified.example"), _message(2, sender=sender)]

    # When sent in bulk (one sender per call: the stranger's message goes in a call of its own)
    outcomes = [BulkMailer().send_bulk([item])[0] for item in items]

    # Then only that entry is refused, as that recipient's failure
    assert [o.message_id is not None for o in outcomes] == [True, False, True]
    assert outcomes[1] == BulkOutcome(rejected="provider_MESSAGE_REJECTED")


def test_a_throttled_call_sends_nothing_and_asks_for_every_entry_again(sender: str) -> None:
    class Response:
        status_code = 400
        headers: ClassVar[dict[str, str]] = {}

    def throttle(**_: Any) -> Any:
        return Response(), {"Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate exceeded"}}

    ses = clients.sesv2_send_once()
    ses.meta.events.register("before-call.sesv2.SendBulkEmail", throttle)
    try:
        outcomes = BulkMailer().send_bulk([_message(i, sender=sender) for i in range(3)])
    finally:
        ses.meta.events.unregister("before-call.sesv2.SendBulkEmail", throttle)
    assert outcomes == [BulkOutcome(retry=True)] * 3
    assert read_outbox() == []
