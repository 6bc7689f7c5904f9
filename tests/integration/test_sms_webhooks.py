"""SMS STOP and START through the Twilio and Vonage webhooks, on moto, with signatures made as the providers do."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from samtykke.domain.consent import Channel
from samtykke.domain.suppression import SuppressionReason, suppression_reason
from samtykke.services import contacts
from samtykke.services.context import Services
from samtykke.settings import get_settings
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.evidence_support import confirm_sms_link
from tests.integration.sms_helpers import (
    HOST,
    TOKEN,
    VONAGE_SECRET,
    EventFactory,
    Invoke,
    admin_call,
    table_snapshot,
    twilio_event,
    twilio_params,
    twilio_url,
    vonage_event,
    vonage_params,
    vonage_sig,
)

pytestmark = pytest.mark.integration

PHONE = "+4520123456"
Admin = Callable[..., dict[str, Any]]


@pytest.fixture
def admin(api_event: EventFactory, invoke: Invoke, tenant: TenantFixture) -> Admin:
    return admin_call(api_event, invoke, tenant)


@pytest.fixture
def configured(admin: Admin) -> None:
    """The tenant has set its Twilio auth token and its Vonage signature secret."""
    assert admin("PUT", "/v1/admin/settings/sms/twilio", json_body={"auth_token": TOKEN})["statusCode"] == 200
    response = admin(
        "PUT",
        "/v1/admin/settings/sms/vonage",
        json_body={"signature_secret": VONAGE_SECRET, "signature_method": "sha256"},
    )
    assert response["statusCode"] == 200, response["body"]


@pytest.fixture
def subscriber(api_event: EventFactory, invoke: Invoke, tenant: TenantFixture) -> str:
    """A Danish contact with e-marketing by email (pending double opt-in) and by SMS (granted: the number's owner
    opened the link in the confirmation SMS)."""
    body = {"email": "sms@example.dk", "phone": "20 12 34 56", "purpose": ["e-marketing"], "locale": "da"}
    response = invoke("consent_capture", api_event("consent_capture_json", json_body=body))
    assert response["statusCode"] == 201, response["body"]
    assert confirm_sms_link(invoke, api_event, "+4520123456")["statusCode"] == 200
    contact_id: str = body_of(response)["contact_id"]
    return contact_id


def _states(svc: Services, tenant_id: str, contact_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    summary = contacts.contact_summary(svc, tenant_id, contact_id)
    return {(s.purpose, s.channel.value): s.model_dump(mode="json") for s in summary.consents}


def _suppressions(svc: Services, tenant_id: str, phone: str = PHONE) -> dict[str, Any]:
    keys = svc.keyring.tenant_keys(tenant_id, svc.catalogs.get(tenant_id).root_key_blob)
    address = svc.repo.get_address(tenant_id, "phone", keys.blind_index("phone", phone))
    return dict((address or {}).get("suppressions") or {})


def _twiml_message(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["Content-Type"] == "application/xml"
    body: str = response["body"]
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    return body.removeprefix('<?xml version="1.0" encoding="UTF-8"?><Response>').removesuffix("</Response>")


@pytest.mark.usefixtures("configured")
class TestTwilioStopAndStart:
    def test_stop_withdraws_sms_consent_suppresses_the_number_and_logs_who_and_what(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        params = twilio_params("Stop", sid="SMstop0000000000000000000000000001")
        response = invoke("sms_webhooks", twilio_event(api_event, params))

        assert _twiml_message(response) == (
            "<Message>Acme A/S: Du modtager ikke flere SMS fra os. Send START for at tilmelde dig igen.</Message>"
        )
        states = _states(svc, tenant.tenant_id, subscriber)
        assert states[("e-marketing", "sms")]["status"] == "withdrawn"
        assert states[("e-marketing", "sms")]["source"] == "sms-keyword"
        assert states[("e-marketing", "email")]["status"] == "pending"  # email is untouched
        assert suppression_reason(_suppressions(svc, tenant.tenant_id), Channel.SMS, "e-marketing") is (
            SuppressionReason.SMS_STOP
        )
        log = contacts.consent_log(svc, tenant.tenant_id, subscriber)
        assert log.chain_intact
        last = log.events[-1]
        assert (last.type.value, last.purpose, last.channel.value, last.status.value) == (
            "withdraw",
            "e-marketing",
            "sms",
            "withdrawn",
        )
        assert last.actor.model_dump(mode="json", exclude_none=True) == {
            "type": "sms_provider",
            "id": "twilio",
            "on_behalf_of": "contact",
        }
        assert last.evidence is not None
        assert last.evidence.keyword == "STOP"
        assert last.evidence.provider_message_id == "SMstop0000000000000000000000000001"
        assert abs(last.evidence.at.timestamp() - time.time()) < 60

    def test_start_lifts_the_suppression_and_grants_again(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOP", sid="SM1")))
        response = invoke("sms_webhooks", twilio_event(api_event, twilio_params(" start ", sid="SM2")))

        assert "Du modtager igen SMS fra os" in _twiml_message(response)
        state = _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]
        assert (state["status"], state["source"], state["legal_basis"]) == ("granted", "sms-keyword", "consent")
        assert _suppressions(svc, tenant.tenant_id) == {}
        events = contacts.consent_log(svc, tenant.tenant_id, subscriber).events
        assert [(e.type.value, e.evidence.keyword if e.evidence else None) for e in events[-2:]] == [
            ("withdraw", "STOP"),
            ("grant", "START"),
        ]
        # The grant keeps the consent text the person originally agreed to.
        assert events[-1].text == events[0].text

    def test_a_duplicate_delivery_is_processed_once(
        self, svc: Services, aws: Any, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        stop = twilio_event(api_event, twilio_params("STOP", sid="SMdup"))
        first = invoke("sms_webhooks", stop)
        after_first = table_snapshot(aws.table_name)
        second = invoke("sms_webhooks", stop)

        assert second["body"] == first["body"]
        assert table_snapshot(aws.table_name) == after_first
        (record,) = [json.loads(i) for i in after_first if json.loads(i)["pk"] == "T#acme#SMSINBOUND"]
        assert record["sk"].startswith("sms-keyword#")
        assert (record["action"], int(record["expires_at"]) > time.time() + 2 * 86400) == ("opt_out", True)
        # Even after a START, a late redelivery of the old STOP changes nothing.
        invoke("sms_webhooks", twilio_event(api_event, twilio_params("START", sid="SMstart")))
        invoke("sms_webhooks", stop)
        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "granted"
        events = contacts.consent_log(svc, tenant.tenant_id, subscriber).events
        assert [e.type.value for e in events if e.channel is Channel.SMS] == ["grant", "confirm", "withdraw", "grant"]

    def test_a_stop_from_a_number_with_no_contact_is_kept_on_its_blind_index(
        self, svc: Services, aws: Any, tenant: TenantFixture, api_event: EventFactory, invoke: Invoke
    ) -> None:
        stranger = "+4529876543"
        response = invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOPP", sender=stranger)))

        assert "Du modtager ikke flere SMS" in _twiml_message(response)  # the tenant's language (da)
        assert suppression_reason(_suppressions(svc, tenant.tenant_id, stranger), Channel.SMS, "anything") is (
            SuppressionReason.SMS_STOP
        )
        snapshot = "\n".join(table_snapshot(aws.table_name))
        assert "29876543" not in snapshot  # the number is only ever stored as a blind index

        # A later signup keeps the STOP; a START lifts it.
        body = {"phone": stranger, "purpose": ["e-marketing"]}
        assert invoke("consent_capture", api_event("consent_capture_json", json_body=body))["statusCode"] == 201
        assert _suppressions(svc, tenant.tenant_id, stranger)
        invoke("sms_webhooks", twilio_event(api_event, twilio_params("START", sender=stranger, sid="SM9")))
        assert _suppressions(svc, tenant.tenant_id, stranger) == {}

    def test_a_late_redelivered_stop_from_a_stranger_does_not_stop_again(
        self, svc: Services, aws: Any, tenant: TenantFixture, api_event: EventFactory, invoke: Invoke
    ) -> None:
        stranger = "+4529876500"
        stop = twilio_event(api_event, twilio_params("STOP", sender=stranger, sid="SMstranger1"))
        invoke("sms_webhooks", stop)
        invoke("sms_webhooks", twilio_event(api_event, twilio_params("START", sender=stranger, sid="SMstranger2")))
        after_start = table_snapshot(aws.table_name)

        redelivered = invoke("sms_webhooks", stop)

        assert "Du modtager ikke flere SMS" in _twiml_message(redelivered)  # the same answer as the first time
        assert table_snapshot(aws.table_name) == after_start
        assert _suppressions(svc, tenant.tenant_id, stranger) == {}

    def test_help_answers_and_changes_nothing(
        self, aws: Any, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        before = table_snapshot(aws.table_name)
        for body in ("HELP", "hjælp", "Hjalp", "info"):
            response = invoke("sms_webhooks", twilio_event(api_event, twilio_params(body)))
            assert "Send STOP for at afmelde dig vores SMS" in _twiml_message(response), body
        assert table_snapshot(aws.table_name) == before

    def test_a_message_that_is_no_keyword_is_answered_with_nothing_and_changes_nothing(
        self, aws: Any, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        before = table_snapshot(aws.table_name)
        for body in ("Stop texting me", "Thanks!", "", "STOP STOP"):
            assert _twiml_message(invoke("sms_webhooks", twilio_event(api_event, twilio_params(body)))) == "", body
        assert table_snapshot(aws.table_name) == before

    def test_twilio_advanced_opt_out_decides_and_replies_itself(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        params = twilio_params("Please stop now") | {"OptOutType": "STOP"}
        assert _twiml_message(invoke("sms_webhooks", twilio_event(api_event, params))) == ""

        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "withdrawn"
        event = contacts.consent_log(svc, tenant.tenant_id, subscriber).events[-1]
        assert event.evidence is not None
        assert event.evidence.keyword == "STOP"

    def test_a_base64_form_body_as_api_gateway_sends_it(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        event = twilio_event(api_event, twilio_params("Afmeld"), base64_body=True)
        assert "Du modtager ikke flere SMS" in _twiml_message(invoke("sms_webhooks", event))
        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "withdrawn"

    def test_a_named_stage_is_part_of_the_signed_url(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        params = twilio_params("STOP")
        event = twilio_event(api_event, params, signed_url=twilio_url("acme", prefix="/prod"))
        event["requestContext"]["stage"] = "prod"
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/v1/webhooks/sms/twilio/acme"
        unstaged = twilio_event(api_event, params)  # signed without the stage: not the URL Twilio called
        unstaged["requestContext"]["stage"] = "prod"
        unstaged["rawPath"] = event["rawPath"]

        assert invoke("sms_webhooks", unstaged)["statusCode"] == 403
        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "granted"
        assert invoke("sms_webhooks", event)["statusCode"] == 200
        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "withdrawn"

    def test_a_custom_domain_with_a_base_path_uses_the_configured_public_url(
        self,
        monkeypatch: pytest.MonkeyPatch,
        svc: Services,
        tenant: TenantFixture,
        subscriber: str,
        api_event: EventFactory,
        invoke: Invoke,
    ) -> None:
        monkeypatch.setenv("SAMTYKKE_PUBLIC_BASE_URL", "https://sms.example.com/hooks")
        get_settings.cache_clear()
        params = twilio_params("STOP")
        event = twilio_event(api_event, params, signed_url="https://sms.example.com/hooks/v1/webhooks/sms/twilio/acme")
        event["headers"]["host"] = event["requestContext"]["domainName"] = "sms.example.com"
        wrong = twilio_event(api_event, params)  # signed for the default endpoint
        wrong["headers"]["host"] = "sms.example.com"
        try:
            assert invoke("sms_webhooks", wrong)["statusCode"] == 403
            assert invoke("sms_webhooks", event)["statusCode"] == 200
        finally:
            get_settings.cache_clear()
        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "withdrawn"

    def test_a_rotated_token_works_at_once(
        self, admin: Admin, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        assert invoke("sms_webhooks", twilio_event(api_event, twilio_params("HELP")))["statusCode"] == 200  # cached
        new_token = "abcdefabcdefabcdefabcdefabcdef99"
        assert admin("PUT", "/v1/admin/settings/sms/twilio", json_body={"auth_token": new_token})["statusCode"] == 200

        assert (
            invoke("sms_webhooks", twilio_event(api_event, twilio_params("HELP"), token=new_token))["statusCode"] == 200
        )
        assert invoke("sms_webhooks", twilio_event(api_event, twilio_params("HELP")))["statusCode"] == 403


@pytest.mark.usefixtures("configured")
def test_a_minors_start_waits_for_a_parent(
    svc: Services, tenant: TenantFixture, api_event: EventFactory, invoke: Invoke
) -> None:
    child = "+4531234567"
    ten_years_ago = f"{time.gmtime().tm_year - 10}-01-01"
    body = {"phone": child, "purpose": ["e-marketing"], "birth_date": ten_years_ago, "locale": "da"}
    contact_id = body_of(invoke("consent_capture", api_event("consent_capture_json", json_body=body)))["contact_id"]
    assert _states(svc, tenant.tenant_id, contact_id)[("e-marketing", "sms")]["status"] == "pending_parental"

    invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOP", sender=child, sid="SMk1")))
    assert _states(svc, tenant.tenant_id, contact_id)[("e-marketing", "sms")]["status"] == "withdrawn"
    invoke("sms_webhooks", twilio_event(api_event, twilio_params("START", sender=child, sid="SMk2")))

    assert _states(svc, tenant.tenant_id, contact_id)[("e-marketing", "sms")]["status"] == "pending_parental"
    assert _suppressions(svc, tenant.tenant_id, child) == {}


def _twilio_failures() -> list[tuple[str, Callable[[EventFactory], dict[str, Any]], int, str]]:
    stop = twilio_params("STOP")
    return [
        ("forged", lambda e: twilio_event(e, stop, token="not-the-tenants-token-at-all-000"), 403, "invalid_signature"),
        ("unsigned", lambda e: twilio_event(e, stop, signature=None), 403, "signature_missing"),
        ("garbage", lambda e: twilio_event(e, stop, signature="bm90IGEgc2lnbmF0dXJl"), 403, "invalid_signature"),
        (
            "another tenant's url",
            lambda e: twilio_event(e, stop, signed_url=twilio_url("other")),
            403,
            "invalid_signature",
        ),
        ("unknown tenant", lambda e: twilio_event(e, stop, tenant_id="nobody"), 404, "tenant_not_found"),
        ("bad tenant id", lambda e: twilio_event(e, stop, tenant_id="Not_A_Slug"), 422, "validation_failed"),
        (
            "no From",
            lambda e: twilio_event(e, {k: v for k, v in stop.items() if k != "From"}),
            400,
            "malformed_webhook",
        ),
        (
            "no MessageSid",
            lambda e: twilio_event(e, {k: v for k, v in stop.items() if k not in ("MessageSid", "SmsSid")}),
            400,
            "malformed_webhook",
        ),
        ("From not a number", lambda e: twilio_event(e, stop | {"From": "Telia"}), 422, "invalid_phone"),
    ]


MALFORMED_TWILIO_BODIES = [
    ("application/json", '{"Body": "STOP"}', False, 415, "unsupported_media_type"),
    ("application/x-www-form-urlencoded", "//79/A==", True, 400, "malformed_webhook"),  # not UTF-8
    ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(300)), False, 400, "malformed_webhook"),
    ("multipart/form-data", "x", False, 400, "malformed_multipart"),
]


@pytest.mark.usefixtures("configured", "subscriber")
def test_a_twilio_request_that_fails_gets_a_coded_4xx_and_changes_nothing(
    aws: Any, api_event: EventFactory, invoke: Invoke
) -> None:
    before = table_snapshot(aws.table_name)
    for case, build, status, code in _twilio_failures():
        response = invoke("sms_webhooks", build(api_event))
        assert (response["statusCode"], body_of(response)["error"]["code"]) == (status, code), case
    for content_type, body, base64, status, code in MALFORMED_TWILIO_BODIES:
        event = twilio_event(api_event, twilio_params("STOP"))
        event["headers"]["content-type"] = content_type
        event["body"], event["isBase64Encoded"] = body, base64
        response = invoke("sms_webhooks", event)
        assert (response["statusCode"], body_of(response)["error"]["code"]) == (status, code), body[:20]
    assert table_snapshot(aws.table_name) == before


def test_a_tenant_without_a_twilio_token_refuses_every_webhook(
    aws: Any, tenant: TenantFixture, api_event: EventFactory, invoke: Invoke
) -> None:
    before = table_snapshot(aws.table_name)
    response = invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOP")))
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (403, "sms_provider_not_configured")
    response = invoke("sms_webhooks", vonage_event(api_event, vonage_params("STOP")))
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (403, "sms_provider_not_configured")
    assert table_snapshot(aws.table_name) == before


@pytest.mark.usefixtures("configured")
class TestVonage:
    def test_a_signed_json_stop_withdraws_and_answers_200(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        response = invoke("sms_webhooks", vonage_event(api_event, vonage_params("afmelding")))

        assert response["statusCode"] == 200, response["body"]
        assert body_of(response) == {"status": "ok", "action": "opt_out"}
        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "withdrawn"
        event = contacts.consent_log(svc, tenant.tenant_id, subscriber).events[-1]
        assert event.actor.id == "vonage"
        assert event.evidence is not None
        assert (event.evidence.keyword, event.evidence.provider_message_id) == ("AFMELDING", "0A0000000123ABCD1")
        assert event.evidence.at.isoformat() == "2026-11-23T09:15:00+00:00"  # Vonage's message-timestamp

    def test_every_signature_method_over_a_form_post(
        self,
        admin: Admin,
        svc: Services,
        tenant: TenantFixture,
        subscriber: str,
        api_event: EventFactory,
        invoke: Invoke,
    ) -> None:
        secret = "another secret & more"
        for number, method in enumerate(["md5hash", "md5", "sha1", "sha256", "sha512"]):
            body = {"signature_secret": secret, "signature_method": method}
            assert admin("PUT", "/v1/admin/settings/sms/vonage", json_body=body)["statusCode"] == 200
            params = vonage_params("Hjælp & mere", secret=secret, method=method)
            response = invoke("sms_webhooks", vonage_event(api_event, params, form=True))
            assert (response["statusCode"], body_of(response)["action"]) == (200, "none"), method

            keyword, action, status = (
                ("STOP", "opt_out", "withdrawn") if number % 2 == 0 else ("START", "opt_in", "granted")
            )
            params = vonage_params(keyword, message_id=f"m-{method}", secret=secret, method=method)
            assert body_of(invoke("sms_webhooks", vonage_event(api_event, params, form=True)))["action"] == action
            assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == status, method

    def test_a_duplicate_message_id_is_processed_once(
        self, aws: Any, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        stop = vonage_params("STOP", message_id="dup-1")
        invoke("sms_webhooks", vonage_event(api_event, stop))
        invoke("sms_webhooks", vonage_event(api_event, vonage_params("START", message_id="dup-2")))
        after = table_snapshot(aws.table_name)
        # Vonage retries with a fresh signature and timestamp, but the same messageId
        response = invoke("sms_webhooks", vonage_event(api_event, vonage_params("STOP", message_id="dup-1")))

        assert body_of(response)["action"] == "opt_out"
        assert table_snapshot(aws.table_name) == after
        assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "granted"

    def test_one_part_of_a_long_message_is_never_a_keyword(
        self, aws: Any, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        params = vonage_params("STOP")
        params |= {"concat": "true", "concat-ref": "1", "concat-total": "2", "concat-part": "2"}
        params["sig"] = vonage_sig(params)
        before = table_snapshot(aws.table_name)
        assert body_of(invoke("sms_webhooks", vonage_event(api_event, params)))["action"] == "none"
        assert table_snapshot(aws.table_name) == before


def _vonage_failures() -> list[tuple[str, Callable[[], dict[str, str] | str], int, str]]:
    now = int(time.time())

    def tampered() -> dict[str, str]:
        return vonage_params("HELP") | {"text": "STOP"}

    def resigned(**change: str) -> dict[str, str]:
        params = vonage_params("STOP") | change
        params["sig"] = vonage_sig(params)
        return params

    return [
        ("replayed old timestamp", lambda: vonage_params("STOP", timestamp=now - 3600), 403, "stale_timestamp"),
        ("six minutes old", lambda: vonage_params("STOP", timestamp=now - 360), 403, "stale_timestamp"),
        ("from the future", lambda: vonage_params("STOP", timestamp=now + 600), 403, "stale_timestamp"),
        (
            "no timestamp",
            lambda: (
                {k: v for k, v in resigned().items() if k != "timestamp"}
                | {"sig": vonage_sig({k: v for k, v in vonage_params("STOP").items() if k != "timestamp"})}
            ),
            403,
            "stale_timestamp",
        ),
        ("forged", lambda: vonage_params("STOP", secret="not the secret"), 403, "invalid_signature"),
        ("tampered", tampered, 403, "invalid_signature"),
        ("wrong method", lambda: vonage_params("STOP", method="md5hash"), 403, "invalid_signature"),
        ("unsigned", lambda: {k: v for k, v in vonage_params("STOP").items() if k != "sig"}, 403, "signature_missing"),
        ("not JSON", lambda: '{"msisdn": ', 400, "malformed_webhook"),
        ("a JSON list", lambda: "[1, 2]", 400, "malformed_webhook"),
        ("a nested value", lambda: json.dumps({"msisdn": {"a": 1}, "sig": "x"}), 400, "malformed_webhook"),
        (
            "no messageId",
            lambda: (
                {k: v for k, v in resigned().items() if k != "messageId"}
                | {"sig": vonage_sig({k: v for k, v in vonage_params("STOP").items() if k != "messageId"})}
            ),
            400,
            "malformed_webhook",
        ),
        ("msisdn not a number", lambda: resigned(msisdn="TELIA"), 422, "invalid_phone"),
    ]


@pytest.mark.usefixtures("configured")
def test_a_vonage_request_that_fails_gets_a_coded_4xx_and_changes_nothing(
    aws: Any, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
) -> None:
    before = table_snapshot(aws.table_name)
    for case, build, status, code in _vonage_failures():
        response = invoke("sms_webhooks", vonage_event(api_event, build()))
        assert (response["statusCode"], body_of(response)["error"]["code"]) == (status, code), case
    response = invoke("sms_webhooks", vonage_event(api_event, vonage_params("STOP"), tenant_id="nobody"))
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (404, "tenant_not_found")
    assert table_snapshot(aws.table_name) == before
    assert _states(svc, tenant.tenant_id, subscriber)[("e-marketing", "sms")]["status"] == "granted"


@pytest.mark.usefixtures("configured")
class TestTenantKeywords:
    @pytest.fixture
    def two_sms_purposes(self, admin: Admin, api_event: EventFactory, invoke: Invoke, subscriber: str) -> None:
        """A second SMS purpose, `sms-offers`, that the subscriber also consents to."""
        purpose = {"purpose_id": "sms-offers", "names": {"da": "SMS-tilbud", "en": "SMS offers"}, "channels": ["sms"]}
        assert admin("POST", "/v1/admin/purposes", json_body=purpose, function="admin_api")["statusCode"] == 201
        text = {"purpose_id": "sms-offers", "locale": "da", "text": "Ja tak til SMS-tilbud."}
        assert admin("POST", "/v1/admin/consent-texts", json_body=text, function="admin_api")["statusCode"] == 201
        body = {"phone": PHONE, "purpose": ["sms-offers"], "locale": "da"}
        assert invoke("consent_capture", api_event("consent_capture_json", json_body=body))["statusCode"] == 201
        for keyword, action in (("Nyheder stop", "opt_out"), ("Nyheder start", "opt_in")):
            body = {"keyword": keyword, "action": action, "locale": "da", "purpose": "e-marketing"}
            response = admin("POST", "/v1/admin/sms/keywords", json_body=body)
            assert response["statusCode"] == 201, response["body"]

    @pytest.mark.usefixtures("two_sms_purposes")
    def test_a_scoped_stop_withdraws_only_its_purpose(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        response = invoke("sms_webhooks", twilio_event(api_event, twilio_params("NYHEDER STOP!")))

        assert _twiml_message(response) == "<Message>Acme A/S: Du modtager ikke flere SMS om E-markedsføring.</Message>"
        states = _states(svc, tenant.tenant_id, subscriber)
        assert states[("e-marketing", "sms")]["status"] == "withdrawn"
        assert states[("sms-offers", "sms")]["status"] == "granted"
        assert set(_suppressions(svc, tenant.tenant_id)) == {"sms#e-marketing"}

    @pytest.mark.usefixtures("two_sms_purposes")
    def test_a_scoped_start_after_a_full_stop_restores_only_its_purpose(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOP", sid="SMa")))
        assert set(_suppressions(svc, tenant.tenant_id)) == {"sms#*"}

        response = invoke("sms_webhooks", twilio_event(api_event, twilio_params("nyheder start", sid="SMb")))

        assert "Du modtager igen SMS om E-markedsføring" in _twiml_message(response)
        states = _states(svc, tenant.tenant_id, subscriber)
        assert states[("e-marketing", "sms")]["status"] == "granted"
        assert states[("sms-offers", "sms")]["status"] == "withdrawn"
        suppressions = _suppressions(svc, tenant.tenant_id)
        assert set(suppressions) == {"sms#sms-offers"}
        assert suppressions["sms#sms-offers"]["reason"] == "sms_stop"

        # A full START then lifts everything and grants both again.
        invoke("sms_webhooks", twilio_event(api_event, twilio_params("START", sid="SMc")))
        assert _suppressions(svc, tenant.tenant_id) == {}
        states = _states(svc, tenant.tenant_id, subscriber)
        assert {states[(p, "sms")]["status"] for p in ("e-marketing", "sms-offers")} == {"granted"}

    def test_a_start_never_lifts_a_suppression_it_did_not_set(
        self, svc: Services, tenant: TenantFixture, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
        manual = {"reason": SuppressionReason.MANUAL.value, "at": "2026-11-23T10:00:00+00:00"}
        svc.repo.set_address_suppression(tenant.tenant_id, "phone", keys.blind_index("phone", PHONE), "sms#*", manual)

        invoke("sms_webhooks", twilio_event(api_event, twilio_params("START")))

        assert _suppressions(svc, tenant.tenant_id) == {"sms#*": manual}


class TestAdmin:
    def test_secrets_are_sealed_and_never_returned(self, aws: Any, admin: Admin, configured: None) -> None:
        response = admin("GET", "/v1/admin/settings/sms")

        assert response["statusCode"] == 200
        settings = body_of(response)
        assert {p["provider"]: p["configured"] for p in settings["providers"]} == {"twilio": True, "vonage": True}
        assert {p["provider"]: p.get("signature_method") for p in settings["providers"]}["vonage"] == "sha256"
        everything = "\n".join(table_snapshot(aws.table_name)) + response["body"]
        assert TOKEN not in everything
        assert VONAGE_SECRET not in everything

    def test_only_owners_and_admins_set_secrets_and_viewers_may_look(self, admin: Admin) -> None:
        from samtykke.domain.access import Role

        for role in (Role.EDITOR, Role.AUTHOR, Role.VIEWER):
            response = admin("PUT", "/v1/admin/settings/sms/twilio", json_body={"auth_token": TOKEN}, role=role)
            assert (response["statusCode"], body_of(response)["error"]["code"]) == (403, "permission_denied")
        assert admin("GET", "/v1/admin/settings/sms", role=Role.VIEWER)["statusCode"] == 200

    @pytest.mark.parametrize(
        ("path", "body", "status"),
        [
            ("/v1/admin/settings/sms/twilio", {"auth_token": "short"}, 422),
            ("/v1/admin/settings/sms/twilio", {"auth_token": TOKEN, "extra": 1}, 422),
            ("/v1/admin/settings/sms/vonage", {"signature_secret": VONAGE_SECRET, "signature_method": "rot13"}, 422),
            ("/v1/admin/settings/sms/bandwidth", {"auth_token": TOKEN}, 404),
        ],
    )
    def test_bad_settings_are_refused(
        self, aws: Any, admin: Admin, path: str, body: dict[str, Any], status: int
    ) -> None:
        before = table_snapshot(aws.table_name)
        assert admin("PUT", path, json_body=body)["statusCode"] == status
        assert table_snapshot(aws.table_name) == before

    def test_a_removed_secret_stops_the_webhooks(
        self, admin: Admin, configured: None, api_event: EventFactory, invoke: Invoke
    ) -> None:
        assert admin("DELETE", "/v1/admin/settings/sms/twilio")["statusCode"] == 204
        assert admin("DELETE", "/v1/admin/settings/sms/twilio")["statusCode"] == 404
        response = invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOP")))
        assert body_of(response)["error"]["code"] == "sms_provider_not_configured"

    def test_keywords_are_listed_with_the_defaults_and_conflicts_refused(self, aws: Any, admin: Admin) -> None:
        body = {"keyword": "Nyheder stop", "action": "opt_out", "locale": "da", "purpose": "e-marketing"}
        created = admin("POST", "/v1/admin/sms/keywords", json_body=body)
        assert created["statusCode"] == 201, created["body"]
        keyword_id = body_of(created)["keyword_id"]

        listed = body_of(admin("GET", "/v1/admin/sms/keywords"))
        assert [k["keyword"] for k in listed["keywords"]] == ["Nyheder stop"]
        assert {"keyword": "HJÆLP", "action": "help", "locale": "da"} in listed["defaults"]

        before = table_snapshot(aws.table_name)
        refused = [
            ({"keyword": "NYHEDER  STOP!", "action": "opt_in", "locale": "da"}, 409, "keyword_conflict"),
            ({"keyword": "Stopp", "action": "opt_out", "locale": "sv"}, 409, "keyword_conflict"),
            ({"keyword": "Hjalp", "action": "help", "locale": "sv"}, 409, "keyword_conflict"),
            ({"keyword": "Quitter", "action": "opt_out", "locale": "fr"}, 422, "unsupported_locale"),
            ({"keyword": "...", "action": "opt_out", "locale": "da"}, 422, "invalid_keyword"),
            ({"keyword": "X1", "action": "opt_out", "locale": "da", "purpose": "nope"}, 422, "unknown_purpose"),
            (
                {"keyword": "X2", "action": "opt_out", "locale": "da", "purpose": "sales-and-service"},
                422,
                "no_sms_channel",
            ),
            ({"keyword": "X3", "action": "help", "locale": "da", "purpose": "e-marketing"}, 422, "scope_not_allowed"),
            ({"keyword": "X4", "action": "delete", "locale": "da"}, 422, "validation_failed"),
        ]
        for body, status, code in refused:
            response = admin("POST", "/v1/admin/sms/keywords", json_body=body)
            assert (response["statusCode"], body_of(response)["error"]["code"]) == (status, code), body
        assert table_snapshot(aws.table_name) == before

        assert admin("DELETE", f"/v1/admin/sms/keywords/{keyword_id}")["statusCode"] == 204
        assert admin("DELETE", f"/v1/admin/sms/keywords/{keyword_id}")["statusCode"] == 404
        assert body_of(admin("GET", "/v1/admin/sms/keywords"))["keywords"] == []

    def test_inbound_numbers_belong_to_one_tenant(
        self,
        admin: Admin,
        make_tenant: Callable[..., TenantFixture],
        api_event: EventFactory,
        invoke: Invoke,
    ) -> None:
        created = admin("POST", "/v1/admin/sms/numbers", json_body={"number": "70 20 20 20"})
        assert (created["statusCode"], body_of(created)["number"]) == (201, "+4570202020")
        assert admin("POST", "/v1/admin/sms/numbers", json_body={"number": "+4570202020"})["statusCode"] == 201
        assert [n["number"] for n in body_of(admin("GET", "/v1/admin/sms/numbers"))] == ["+4570202020"]
        assert body_of(admin("GET", "/v1/admin/settings/sms"))["numbers"] == ["+4570202020"]

        other = admin_call(api_event, invoke, make_tenant("other"))
        taken = other("POST", "/v1/admin/sms/numbers", json_body={"number": "+4570202020"})
        assert (taken["statusCode"], body_of(taken)["error"]["code"]) == (409, "sms_number_taken")
        assert "tenant" not in body_of(taken)["error"]["message"].lower()  # no hint of whose it is (issue 20)
        assert other("DELETE", "/v1/admin/sms/numbers/+4570202020")["statusCode"] == 404
        assert other("POST", "/v1/admin/sms/numbers", json_body={"number": "not a number"})["statusCode"] == 422

        assert admin("DELETE", "/v1/admin/sms/numbers/%2B4570202020")["statusCode"] == 204
        assert other("POST", "/v1/admin/sms/numbers", json_body={"number": "+4570202020"})["statusCode"] == 201

    def test_a_numbers_sms_status(
        self, admin: Admin, configured: None, subscriber: str, api_event: EventFactory, invoke: Invoke
    ) -> None:
        assert body_of(admin("GET", "/v1/admin/sms/status", query={"phone": PHONE}))["suppressions"] == []
        invoke("sms_webhooks", twilio_event(api_event, twilio_params("STOP")))

        status = body_of(admin("GET", "/v1/admin/sms/status", query={"phone": "20123456"}))
        assert status["phone"] == PHONE
        assert status["contact_id"] == subscriber
        assert status["suppressed_for_all"] is True
        assert [(s["purpose"], s["reason"], s["keyword"], s["provider"]) for s in status["suppressions"]] == [
            (None, "sms_stop", "STOP", "twilio")
        ]
        assert admin("GET", "/v1/admin/sms/status", query={"phone": "nope"})["statusCode"] == 422


def test_the_twilio_sample_event_is_signed_for_its_own_url(
    svc: Services, tenant: TenantFixture, admin: Admin, api_event: EventFactory, invoke: Invoke
) -> None:
    """`events/apigw/sms_twilio.json` carries a real signature (the example token over its execute-api URL)."""
    assert admin("PUT", "/v1/admin/settings/sms/twilio", json_body={"auth_token": TOKEN})["statusCode"] == 200
    event = api_event("sms_twilio")
    assert event["headers"]["host"] == HOST
    assert invoke("sms_webhooks", event)["statusCode"] == 200
    assert _suppressions(svc, tenant.tenant_id)  # the sample is a STOP from +4520123456
