"""Provider signatures, checked against the providers' own implementations, and the URL Twilio signs."""

from __future__ import annotations

import copy
import hashlib
import hmac
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from twilio.request_validator import RequestValidator

from samtykke.api.webhook_url import called_url, route_path
from samtykke.domain.sms_signatures import (
    VonageSignatureMethod,
    twilio_signature,
    verify_twilio,
    verify_vonage,
    vonage_signature,
    vonage_timestamp_fresh,
)
from tests.conftest import load_event

pytestmark = pytest.mark.unit

TOKEN = "12345678901234567890123456789012"
URL = "https://abc123.execute-api.eu-north-1.amazonaws.com/v1/webhooks/sms/twilio/acme"
TWILIO_PARAMS: dict[str, Any] = {
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "From": "+4520123456",
    "To": "+4570202020",
    "Body": "Hjælp & mere = tak ✓",
    "FromCity": "",
    "NumMedia": "0",
}


class TestTwilio:
    def test_twilios_documented_example(self) -> None:
        # The example in Twilio's security documentation, which its RequestValidator reproduces.
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        params = {
            "CallSid": "CA1234567890ABCDE",
            "Caller": "+12349013030",
            "Digits": "1234",
            "From": "+12349013030",
            "To": "+18005551212",
        }
        ours = twilio_signature("12345", url, {k: [v] for k, v in params.items()})
        assert ours == RequestValidator("12345").compute_signature(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

    @pytest.mark.parametrize(
        "params",
        [
            TWILIO_PARAMS,
            {},
            {"Body": "STOP"},
            {"Body": "  stop\n", "From": "+4520123456", "Z": "last", "a": "lower case sorts after upper"},
            {"Body": "😀 ÆØÅ äöü ß", "OptOutType": "STOP"},
        ],
    )
    def test_our_signature_is_the_official_librarys(self, params: dict[str, str]) -> None:
        official = RequestValidator(TOKEN).compute_signature(URL, params)
        assert twilio_signature(TOKEN, URL, {k: [v] for k, v in params.items()}) == official
        assert verify_twilio(TOKEN, URL, {k: [v] for k, v in params.items()}, official)

    def test_repeated_parameters_sign_like_the_official_library(self) -> None:
        from werkzeug.datastructures import MultiDict

        multi = MultiDict([("Body", "STOP"), ("MediaUrl", "b"), ("MediaUrl", "a")])
        official = RequestValidator(TOKEN).compute_signature(URL, multi)
        assert verify_twilio(TOKEN, URL, {"Body": ["STOP"], "MediaUrl": ["b", "a"]}, official)

    def test_the_url_is_checked_with_and_without_the_default_port_like_twilio(self) -> None:
        signed_with_port = RequestValidator(TOKEN).compute_signature(URL.replace(".com/", ".com:443/"), TWILIO_PARAMS)
        params = {k: [v] for k, v in TWILIO_PARAMS.items()}
        assert verify_twilio(TOKEN, URL, params, signed_with_port)
        signed_without = RequestValidator(TOKEN).compute_signature(URL, TWILIO_PARAMS)
        assert verify_twilio(TOKEN, URL.replace(".com/", ".com:443/"), params, signed_without)

    def test_hmac_sha256_is_used_when_the_settings_header_names_it(self) -> None:
        official = RequestValidator(TOKEN).compute_signature(URL, TWILIO_PARAMS, algorithm="HMAC_SHA256")
        params = {k: [v] for k, v in TWILIO_PARAMS.items()}
        settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
        assert verify_twilio(TOKEN, URL, params, official, signature_settings=settings)
        assert not verify_twilio(TOKEN, URL, params, official)
        assert not verify_twilio(TOKEN, URL, params, official, signature_settings="algorithm=HMAC_MD5")

    @pytest.mark.parametrize(
        ("token", "url", "change"),
        [
            ("another-token-another-token-1234", URL, {}),
            (TOKEN, URL.replace("acme", "other"), {}),  # another tenant's URL
            (TOKEN, URL.replace("https", "http"), {}),
            (TOKEN, URL + "?x=1", {}),
            (TOKEN, URL, {"Body": "START"}),  # the body changed
            (TOKEN, URL, {"Extra": "1"}),  # a parameter added
        ],
    )
    def test_any_change_breaks_the_signature(self, token: str, url: str, change: dict[str, str]) -> None:
        official = RequestValidator(TOKEN).compute_signature(URL, TWILIO_PARAMS)
        params = {k: [v] for k, v in (TWILIO_PARAMS | change).items()}
        assert not verify_twilio(token, url, params, official)
        assert not verify_twilio(TOKEN, URL, {k: [v] for k, v in TWILIO_PARAMS.items()}, "")
        assert not verify_twilio(TOKEN, URL, {k: [v] for k, v in TWILIO_PARAMS.items()}, official[:-2] + "==")


class TestVonage:
    """Vectors from Vonage's own SDK test suites (vonage-python-sdk, v3 and v4), and Vonage's documented algorithm."""

    @pytest.mark.parametrize(
        ("params", "secret", "method", "expected"),
        [
            (
                {"a": "1", "b": "2", "timestamp": "1461605396"},
                "secret",
                VonageSignatureMethod.MD5HASH,
                "6af838ef94998832dbfc29020b564830",
            ),
            (
                {"param1": "value1", "param2": "value2", "timestamp": "1234567890"},
                "signature_secret",
                VonageSignatureMethod.SHA256,
                "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287",
            ),
            (
                {"param1": "value1", "param2": "value2", "timestamp": "1234567890"},
                "signature_secret",
                VonageSignatureMethod.MD5,
                "724c2bf6ca423c36e20631b11d1c5753",
            ),
            (
                {"param1": "value&1", "param2": "value=2", "timestamp": "1234567890"},
                "signature_secret",
                VonageSignatureMethod.MD5,
                "2bbf0abafb2c55e5af6231513896a2ac",
            ),
            (
                {"param": "value", "timestamp": "1234567890"},
                "signature_secret",
                VonageSignatureMethod.MD5,
                "655a4d0b7f064dff438defc52b012cf5",
            ),
        ],
    )
    def test_the_sdks_published_vectors(
        self, params: dict[str, str], secret: str, method: VonageSignatureMethod, expected: str
    ) -> None:
        assert vonage_signature(secret, params, method) == expected
        assert verify_vonage(secret, params | {"sig": expected}, method)
        assert verify_vonage(secret, params | {"sig": expected.upper()}, method)  # hex case does not matter

    @pytest.mark.parametrize("method", list(VonageSignatureMethod))
    def test_every_method_follows_the_documented_algorithm(self, method: VonageSignatureMethod) -> None:
        params = {"msisdn": "4520123456", "text": "a&b=c", "timestamp": "1795424100", "to": "4570202020"}
        payload = b"&msisdn=4520123456&text=a_b_c&timestamp=1795424100&to=4570202020"
        if method is VonageSignatureMethod.MD5HASH:
            expected = hashlib.md5(payload + b"s3cret", usedforsecurity=False).hexdigest()
        else:
            expected = hmac.new(b"s3cret", payload, method.value).hexdigest()
        assert vonage_signature("s3cret", params, method) == expected
        assert verify_vonage("s3cret", params | {"sig": expected}, method)
        assert not verify_vonage("s3cret", params | {"sig": expected, "text": "STOP"}, method)
        assert not verify_vonage("wrong-secret", params | {"sig": expected}, method)
        assert not verify_vonage("s3cret", params, method)  # unsigned

    def test_timestamps_older_than_five_minutes_or_in_the_future_are_stale(self) -> None:
        now = 1_795_424_100.0
        assert vonage_timestamp_fresh("1795424100", now)
        assert vonage_timestamp_fresh(str(int(now) - 300), now)
        assert not vonage_timestamp_fresh(str(int(now) - 301), now)
        assert vonage_timestamp_fresh(str(int(now) + 60), now)
        assert not vonage_timestamp_fresh(str(int(now) + 61), now)
        for bad in (None, "", "soon", "1.5e9"):
            assert not vonage_timestamp_fresh(bad, now)


def _event(**changes: Any) -> APIGatewayProxyEventV2:
    event = copy.deepcopy(load_event("apigw/sms_twilio.json"))
    for name, value in changes.items():
        if name == "stage":
            event["requestContext"]["stage"] = value
        elif name == "host":
            event["headers"]["host"] = event["requestContext"]["domainName"] = value
        elif name == "raw_path":
            event["rawPath"] = value
        elif name == "query":
            event["rawQueryString"] = value
        elif name == "proto":
            event["headers"]["x-forwarded-proto"] = value
    return APIGatewayProxyEventV2(event)


class TestTheUrlTwilioCalled:
    def test_the_default_endpoint_and_stage(self) -> None:
        assert called_url(_event(), "") == URL

    def test_a_named_stage_is_part_of_the_url(self) -> None:
        # API Gateway keeps the stage segment in rawPath for a named stage.
        event = _event(stage="prod", raw_path="/prod/v1/webhooks/sms/twilio/acme")
        expected = "https://abc123.execute-api.eu-north-1.amazonaws.com/prod/v1/webhooks/sms/twilio/acme"
        assert called_url(event, "") == expected
        # ... and a URL configured for another host does not change that
        assert called_url(event, "https://sms.example.com") == expected

    @pytest.mark.parametrize(
        "raw_path",
        ["/v1/webhooks/sms/twilio/acme", "/hooks/v1/webhooks/sms/twilio/acme", "/live/v1/webhooks/sms/twilio/acme"],
    )
    def test_a_custom_domain_with_a_base_path_mapping(self, raw_path: str) -> None:
        # The mapping key `hooks` (to stage `live`) may or may not reach rawPath; the URL is the same either way.
        event = _event(host="sms.example.com", stage="live", raw_path=raw_path)
        url = called_url(event, "https://sms.example.com/hooks/")
        assert url == "https://sms.example.com/hooks/v1/webhooks/sms/twilio/acme"

    def test_a_custom_domain_at_its_root(self) -> None:
        event = _event(host="consent.example.org")
        assert (
            called_url(event, "https://consent.example.org")
            == "https://consent.example.org/v1/webhooks/sms/twilio/acme"
        )

    def test_the_query_string_is_kept(self) -> None:
        assert called_url(_event(query="source=sms&x=%20y"), "") == URL + "?source=sms&x=%20y"

    def test_the_local_stack_on_http_with_a_port(self) -> None:
        event = _event(host="127.0.0.1:3000", proto="http")
        assert called_url(event, "http://127.0.0.1:3000") == "http://127.0.0.1:3000/v1/webhooks/sms/twilio/acme"
        assert called_url(event, "") == "http://127.0.0.1:3000/v1/webhooks/sms/twilio/acme"

    def test_route_path_strips_only_real_prefixes(self) -> None:
        assert route_path("/prod/v1/x", "prod") == "/v1/x"
        assert route_path("/production/v1/x", "prod") == "/production/v1/x"
        assert route_path("/v1/x", "$default", "/v1") == "/x"
        assert route_path("/v1/x", None) == "/v1/x"

    def test_a_signature_made_by_twilio_for_the_custom_domain_verifies(self) -> None:
        event = _event(host="sms.example.com", stage="live", raw_path="/live/v1/webhooks/sms/twilio/acme")
        public = "https://sms.example.com/hooks/v1/webhooks/sms/twilio/acme"
        signature = RequestValidator(TOKEN).compute_signature(public, TWILIO_PARAMS)
        url = called_url(event, "https://sms.example.com/hooks")
        assert verify_twilio(TOKEN, url, {k: [v] for k, v in TWILIO_PARAMS.items()}, signature)
