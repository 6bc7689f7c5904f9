"""`/_local/outbox` reads what moto's SES and SNS backends "sent", with headers parsed and times noted."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import boto3
import pytest
from moto import mock_aws

from samtykke.local.outbox import read_outbox, record_send_times
from samtykke.local.provision import Resources, provision
from samtykke.resources import DEFAULT_REGION

pytestmark = pytest.mark.integration

SUBJECT = "Nyhedsbrev: æbler, øl og ål"  # non-ASCII, so it travels RFC 2047-encoded


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.session.Session(region_name=DEFAULT_REGION)


@pytest.fixture
def provisioned(session: boto3.session.Session) -> Resources:
    resources = provision(session)
    record_send_times()
    return resources


def marketing_mail(sender: str, to: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Demo Shop <{sender}>"
    mail["To"] = f"Anna <{to}>"
    mail["Subject"] = SUBJECT
    mail["List-Unsubscribe"] = "<https://consent.example/u/tok>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content("Hej Anna")
    return mail.as_bytes()


def test_a_raw_email_appears_with_its_headers_and_raw_mime(
    session: boto3.session.Session, provisioned: Resources
) -> None:
    raw = marketing_mail(provisioned.sender_email, "anna@example.dk")
    session.client("sesv2").send_email(
        FromEmailAddress=provisioned.sender_email,
        Destination={"ToAddresses": ["anna@example.dk"]},
        Content={"Raw": {"Data": raw}},
    )

    (mail,) = read_outbox()

    assert mail["channel"] == "email"
    assert mail["to"] == ["anna@example.dk"]
    assert mail["subject"] == SUBJECT
    assert mail["headers"]["List-Unsubscribe"] == "<https://consent.example/u/tok>"
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["raw"] == raw.decode()
    assert mail["sent_at"]


def test_a_simple_email_gets_its_mime_rebuilt(session: boto3.session.Session, provisioned: Resources) -> None:
    session.client("sesv2").send_email(
        FromEmailAddress=provisioned.sender_email,
        Destination={"ToAddresses": ["bo@example.dk"]},
        Content={"Simple": {"Subject": {"Data": "Bekræft"}, "Body": {"Html": {"Data": "<p>Klik</p>"}}}},
    )

    (mail,) = read_outbox()

    assert (mail["subject"], mail["to"]) == ("Bekræft", ["bo@example.dk"])
    assert mail["headers"]["Content-Type"].startswith("text/html")


def test_an_sms_appears_with_its_text(session: boto3.session.Session, provisioned: Resources) -> None:
    session.client("sns").publish(PhoneNumber="+4512345678", Message="Tilbud! Svar STOP for at framelde")

    (sms,) = read_outbox()

    assert sms["channel"] == "sms"
    assert sms["to"] == ["+4512345678"]
    assert sms["text"] == "Tilbud! Svar STOP for at framelde"
    assert sms["sent_at"]


def test_to_keeps_only_what_was_sent_to_that_recipient(session: boto3.session.Session, provisioned: Resources) -> None:
    sesv2 = session.client("sesv2")
    for address in ("anna@example.dk", "bo@example.dk"):
        sesv2.send_email(
            FromEmailAddress=provisioned.sender_email,
            Destination={"ToAddresses": [address]},
            Content={"Raw": {"Data": marketing_mail(provisioned.sender_email, address)}},
        )
    session.client("sns").publish(PhoneNumber="+4512345678", Message="Hej")

    assert [entry["to"] for entry in read_outbox("Bo@Example.dk")] == [["bo@example.dk"]]
    assert [entry["channel"] for entry in read_outbox("+4512345678")] == ["sms"]
    assert [entry["to"] for entry in read_outbox()] == [["anna@example.dk"], ["bo@example.dk"], ["+4512345678"]]


def test_each_email_has_its_decoded_bodies_and_every_link(
    session: boto3.session.Session, provisioned: Resources
) -> None:
    # Given a mail whose long link a quoted-printable body breaks across lines
    link = "https://consent.example/v1/public/confirm/" + "x" * 120 + "?a=1&b=2"
    mail = EmailMessage()
    mail["From"] = provisioned.sender_email
    mail["To"] = "anna@example.dk"
    mail["Subject"] = "Bekræft"
    mail["List-Unsubscribe"] = "<https://consent.example/u/tok>"
    mail.set_content(f"Bekræft her: {link}\nTak.", cte="quoted-printable")
    mail.add_alternative(f'<p>Bekræft <a href="{link.replace("&", "&amp;")}">her</a></p>', subtype="html")
    raw = mail.as_bytes()
    assert link.encode() not in raw  # the raw MIME does not hold the link in one piece

    session.client("sesv2").send_email(
        FromEmailAddress=provisioned.sender_email,
        Destination={"ToAddresses": ["anna@example.dk"]},
        Content={"Raw": {"Data": raw}},
    )

    (entry,) = read_outbox()
    assert entry["text"] == f"Bekræft her: {link}\nTak.\n"
    assert entry["html"].startswith("<p>Bekræft")
    assert entry["links"] == [link, "https://consent.example/u/tok"]


def test_an_sms_lists_its_links(session: boto3.session.Session, provisioned: Resources) -> None:
    session.client("sns").publish(PhoneNumber="+4512345678", Message="Tilbud: https://shop.example/a. Svar STOP")

    (sms,) = read_outbox()

    assert sms["links"] == ["https://shop.example/a"]
