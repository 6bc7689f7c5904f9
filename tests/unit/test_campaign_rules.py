"""Campaign rules with no I/O: merge fields, fines, SES feedback, the life cycle, the email footer, the CLI's bar."""

from __future__ import annotations

import io
from typing import Any

import pytest

from samtykke.campaign_cli import follow, progress_line
from samtykke.domain.audience import ERASURE_SOURCE
from samtykke.domain.campaigns import (
    CampaignStatus,
    JustificationRequired,
    UnsubscribeLinkRequired,
    check_transactional,
    current_status,
)
from samtykke.domain.consent import Channel
from samtykke.domain.fines import FINE_RATES, FineRate, exposure, rate_for
from samtykke.domain.mail import OutgoingEmail, compose
from samtykke.domain.merge import MERGE_FIELDS, InvalidTemplate, UnknownMergeField, merge_fields, render
from samtykke.domain.ses_feedback import FeedbackAction, feedback, mail_header, mail_tag
from samtykke.services.links import list_unsubscribe_headers
from samtykke.templates.campaign import campaign_footer, with_footer
from tests.conftest import load_event

pytestmark = pytest.mark.unit

EMAIL_FIELDS = MERGE_FIELDS[Channel.EMAIL]


class TestMergeFields:
    def test_known_fields_are_found_and_literal_braces_are_not_fields(self) -> None:
        assert merge_fields("Hi {first_name} {{not a field}} from {tenant}", EMAIL_FIELDS) == {"first_name", "tenant"}

    @pytest.mark.parametrize(
        ("template", "error"),
        [
            ("Hi {nickname}", UnknownMergeField),
            ("{unsubscribe_url}", UnknownMergeField),  # SMS has no unsubscribe link field
            ("Hi {first_name.__class__}", InvalidTemplate),
            ("Hi {first_name[0]}", InvalidTemplate),
            ("Hi {first_name!r}", InvalidTemplate),
            ("Hi {first_name:>10}", InvalidTemplate),
            ("Hi {}", InvalidTemplate),
            ("Hi {0}", InvalidTemplate),
            ("Hi {first_name", InvalidTemplate),
            ("Hi first_name}", InvalidTemplate),
        ],
    )
    def test_anything_else_is_refused_with_a_code(self, template: str, error: type[Exception]) -> None:
        with pytest.raises(error) as raised:
            merge_fields(template, MERGE_FIELDS[Channel.SMS])
        assert getattr(raised.value, "status", None) == 422

    def test_html_values_are_escaped_and_text_values_are_not(self) -> None:
        values = {"first_name": '<script>alert("x")</script> & Co'}
        assert render("<p>Hi {first_name}</p>", values, escape_html=True) == (
            "<p>Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</p>"
        )
        assert render("Hi {first_name}", values) == 'Hi <script>alert("x")</script> & Co'

    def test_a_subject_value_cannot_break_the_header_and_a_missing_value_is_empty(self) -> None:
        assert render("Hi {first_name}!", {"first_name": "Anna\r\nBcc: x@evil.example"}, one_line=True) == (
            "Hi Anna Bcc: x@evil.example!"
        )
        assert render("Hi {first_name}{{!}}", {"first_name": None}) == "Hi {!}"


class TestFines:
    def test_denmark_is_150_kr_per_recipient_and_at_least_10000(self) -> None:
        dk = rate_for("dk")
        assert dk == FINE_RATES["DK"]
        assert (dk.currency, exposure(1, dk), exposure(66, dk), exposure(67, dk), exposure(1000, dk)) == (
            "DKK",
            10_000,
            10_000,
            10_050,
            150_000,
        )

    def test_no_excluded_recipients_no_exposure(self) -> None:
        assert exposure(0, FINE_RATES["DK"]) == 0

    def test_a_tenant_rate_wins_and_a_country_without_one_gets_none(self) -> None:
        own = FineRate("EUR", 20, 5_000, "tenant setting")
        assert rate_for("DK", own) is own
        assert rate_for("SE") is None


class TestSesFeedback:
    def test_a_permanent_bounce_is_a_hard_bounce_of_its_recipient_with_the_tenant_tag(self) -> None:
        event = load_event("ses/bounce_permanent.json")
        (action,) = feedback(event)
        assert (action.action, action.address, action.detail) == (
            FeedbackAction.HARD_BOUNCE,
            "recipient@example.dk",
            "Permanent/General",
        )
        assert mail_tag(event, "samtykke-tenant") == "acme"
        assert mail_header(event, "x-samtykke-tenant") == "acme"

    def test_a_transient_bounce_is_soft_and_a_complaint_is_a_complaint(self) -> None:
        (soft,) = feedback(load_event("ses/bounce_transient.json"))
        (complaint,) = feedback(load_event("ses/complaint.json"))
        assert (soft.action, complaint.action) == (FeedbackAction.SOFT_BOUNCE, FeedbackAction.COMPLAINT)

    def test_not_spam_deliveries_and_identity_notifications_without_event_publishing(self) -> None:
        complaint: dict[str, Any] = load_event("ses/complaint.json")
        complaint["complaint"]["complaintFeedbackType"] = "not-spam"
        assert feedback(complaint) == []
        assert feedback({"eventType": "Delivery", "mail": {}}) == []
        classic = load_event("ses/bounce_permanent.json")
        classic["notificationType"] = classic.pop("eventType")
        assert [a.action for a in feedback(classic)] == [FeedbackAction.HARD_BOUNCE]


class TestLifeCycle:
    @pytest.mark.parametrize(
        ("stored", "dispatch_done", "queued", "processed", "shown"),
        [
            (CampaignStatus.DRAFT, False, 0, 0, CampaignStatus.DRAFT),
            (CampaignStatus.DISPATCHING, False, 500, 400, CampaignStatus.DISPATCHING),
            (CampaignStatus.SENDING, True, 500, 499, CampaignStatus.SENDING),
            (CampaignStatus.SENDING, True, 500, 500, CampaignStatus.DONE),
            (CampaignStatus.SENDING, True, 0, 0, CampaignStatus.DONE),
        ],
    )
    def test_done_is_derived_from_the_counters(
        self, stored: CampaignStatus, dispatch_done: bool, queued: int, processed: int, shown: CampaignStatus
    ) -> None:
        assert current_status(stored, dispatch_done=dispatch_done, queued=queued, processed=processed) is shown

    def test_a_transactional_send_needs_a_reason_and_only_it_may_drop_the_link(self) -> None:
        with pytest.raises(JustificationRequired):
            check_transactional(transactional=True, justification="   because   ", unsubscribe_link=True)
        with pytest.raises(UnsubscribeLinkRequired):
            check_transactional(transactional=False, justification=None, unsubscribe_link=False)
        check_transactional(
            transactional=True, justification="Order confirmation required by law", unsubscribe_link=False
        )

    def test_the_erasure_source_matches_what_erasure_writes(self) -> None:
        from samtykke.services.erasure import ERASURE_SOURCE as WRITTEN

        assert ERASURE_SOURCE == WRITTEN


class TestEmail:
    def test_a_long_list_unsubscribe_header_is_not_folded_into_encoded_words(self) -> None:
        url = "https://consent.example.test/u/" + "x" * 400
        message = OutgoingEmail(
            "Acme <no-reply@example.dk>", "a@example.dk", "Nyt", "Hej", None, list_unsubscribe_headers(url)
        )
        raw = compose(message).decode()
        assert f"\nList-Unsubscribe: <{url}>\n" in raw.replace("\r\n", "\n")
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw

    def test_the_footer_carries_the_visible_links_and_goes_before_the_body_end(self) -> None:
        text, html = campaign_footer(
            "da",
            tenant_name="Acme <A/S>",
            purpose_name="E-markedsføring",
            unsubscribe_url="https://x.test/u/T",
            preference_url="https://x.test/p/P",
            privacy_policy_url=None,
            transactional=False,
        )
        assert "Afmeld: https://x.test/u/T" in text
        assert '<a href="https://x.test/u/T">Afmeld</a>' in html
        assert "Acme &lt;A/S&gt;" in html
        placed = with_footer("<html><body><p>Hi</p></BODY></html>", html)
        assert placed.index("Afmeld") < placed.index("</BODY>")
        assert with_footer("<p>Hi</p>", html).endswith(html)

    def test_a_transactional_footer_does_not_claim_consent(self) -> None:
        text, _ = campaign_footer(
            "en",
            tenant_name="Acme",
            purpose_name="Service",
            unsubscribe_url="https://x.test/u/T",
            preference_url="https://x.test/p/P",
            privacy_policy_url="https://x.test/privacy",
            transactional=True,
        )
        assert "agreed" not in text
        assert "Privacy" in text or "privacy" in text


class TestCli:
    def test_the_progress_line_shows_the_share_and_the_counts(self) -> None:
        view = {"status": "sending", "progress": 0.5, "counts": {"queued": 10, "sent": 4, "skipped": 1, "failed": 0}}
        line = progress_line(view)
        assert line.startswith("[" + "#" * 15 + "." * 15 + "]")
        assert "50.0%" in line
        assert "5/10" in line
        assert "sent 4" in line

    def test_follow_stops_when_done_and_prints_each_change_once_off_a_terminal(self) -> None:
        views = iter(
            [
                {"status": "sending", "progress": 0.0, "counts": {"queued": 2}},
                {"status": "sending", "progress": 0.0, "counts": {"queued": 2}},
                {"status": "done", "progress": 1.0, "counts": {"queued": 2, "sent": 2}},
            ]
        )
        out = io.StringIO()
        assert follow(lambda: next(views), timeout=10, out=out, poll=0) == 0
        lines = out.getvalue().splitlines()
        assert len(lines) == 2
        assert "done" in lines[-1]
