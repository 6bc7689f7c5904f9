"""The local HTTP front behaves like API Gateway HTTP API: routing, payload 2.0 events, the authorizer, responses."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from samtykke.local import LOGGER
from samtykke.local.apigw import (
    HttpRequest,
    Router,
    authorizer_event,
    fold_headers,
    http_event,
    http_response,
)
from samtykke.local.front import Front
from samtykke.resources import ROUTES, RouteSpec
from tests.conftest import load_event

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
CAPTURE = RouteSpec("POST", "/v1/public/{tenant_id}/consents", "consent_capture", "public")


def request(
    method: str = "POST",
    path: str = "/v1/public/acme/consents",
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> HttpRequest:
    return HttpRequest(method, path, query, headers or [("Host", "127.0.0.1:3000")], body, source_ip="203.0.113.7")


def event_for(http_request: HttpRequest, route: RouteSpec = CAPTURE) -> dict[str, Any]:
    match = Router([route]).match(http_request.method, http_request.raw_path)
    assert match is not None
    return http_event(http_request, match, account_id="123456789012", now=NOW)


class TestRouting:
    @pytest.mark.parametrize(
        ("method", "path", "function", "parameters"),
        [
            ("POST", "/v1/public/acme/consents", "consent_capture", {"tenant_id": "acme"}),
            ("OPTIONS", "/v1/public/acme/consents", "consent_capture", {"tenant_id": "acme"}),
            ("GET", "/v1/public/confirm/tok.en", "consent_capture", {"token": "tok.en"}),
            ("GET", "/openapi.json", "openapi", {}),
            ("GET", "/v1/admin/purposes", "admin_api", {"proxy": "purposes"}),
            ("DELETE", "/v1/admin/contacts/c1/export", "admin_api", {"proxy": "contacts/c1/export"}),
        ],
    )
    def test_the_specs_routes_match_like_api_gateway(
        self, method: str, path: str, function: str, parameters: dict[str, str]
    ) -> None:
        match = Router(ROUTES).match(method, path)

        assert match is not None
        assert match.route.function == function
        assert match.path_parameters == parameters

    @pytest.mark.parametrize(
        ("method", "path"),
        [("GET", "/v1/public/acme/consents"), ("GET", "/v1/admin"), ("GET", "/v1/admin/"), ("GET", "/nowhere")],
    )
    def test_unrouted_requests_match_nothing(self, method: str, path: str) -> None:
        assert Router(ROUTES).match(method, path) is None

    def test_the_most_specific_route_wins(self) -> None:
        router = Router(
            [
                RouteSpec("ANY", "/items/{proxy+}", "greedy", "public"),
                RouteSpec("GET", "/items/{id}", "param", "public"),
                RouteSpec("GET", "/items/special", "exact", "public"),
                RouteSpec("ANY", "/items/{id}", "any-param", "public"),
            ]
        )

        assert router.match("GET", "/items/special").route.function == "exact"
        assert router.match("GET", "/items/42").route.function == "param"
        assert router.match("PUT", "/items/42").route.function == "any-param"
        assert router.match("GET", "/items/42/parts").route.function == "greedy"

    def test_path_parameters_are_percent_decoded_but_the_raw_path_is_kept(self) -> None:
        event = event_for(request(path="/v1/public/a%20b/consents"))

        assert event["pathParameters"] == {"tenant_id": "a b"}
        assert event["rawPath"] == "/v1/public/a%20b/consents"


class TestPayload20Event:
    def test_has_the_shape_of_the_canonical_api_gateway_event(self) -> None:
        canonical = load_event("apigw/consent_capture_form.json")

        event = event_for(request(headers=[("Host", "x"), ("Content-Type", "application/json")], body=b"{}"))

        assert set(event) == set(canonical)
        assert set(event["requestContext"]) == set(canonical["requestContext"])
        assert set(event["requestContext"]["http"]) == set(canonical["requestContext"]["http"])

    def test_request_context_describes_the_request(self) -> None:
        event = event_for(request(headers=[("Host", "127.0.0.1:3000"), ("User-Agent", "curl/8")]))
        context = event["requestContext"]

        assert event["version"] == "2.0"
        assert event["routeKey"] == context["routeKey"] == "POST /v1/public/{tenant_id}/consents"
        assert context["stage"] == "$default"
        assert context["domainName"] == "127.0.0.1:3000"
        assert context["http"] == {
            "method": "POST",
            "path": "/v1/public/acme/consents",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "curl/8",
        }
        assert context["time"] == "23/Nov/2026:09:15:00 +0000"
        assert context["timeEpoch"] == 1795425300000

    def test_headers_are_lower_cased_and_repeats_comma_joined(self) -> None:
        assert fold_headers([("Accept", "text/html"), ("X-Tag", "a"), ("x-tag", "b")]) == {
            "accept": "text/html",
            "x-tag": "a,b",
        }

    def test_cookies_move_from_the_headers_to_their_own_list(self) -> None:
        event = event_for(request(headers=[("Host", "x"), ("Cookie", "a=1; b=2")]))

        assert event["cookies"] == ["a=1", "b=2"]
        assert "cookie" not in event["headers"]

    def test_forwarding_headers_are_added_as_api_gateway_does(self) -> None:
        headers = event_for(request())["headers"]

        assert headers["x-forwarded-for"] == "203.0.113.7"
        assert headers["x-forwarded-proto"] == "http"
        assert headers["x-amzn-trace-id"].startswith("Root=1-")

    def test_query_string_is_kept_raw_and_repeats_are_comma_joined(self) -> None:
        event = event_for(request(query="email=a%40b.dk&purpose=x&purpose=y&empty="))

        assert event["rawQueryString"] == "email=a%40b.dk&purpose=x&purpose=y&empty="
        assert event["queryStringParameters"] == {"email": "a@b.dk", "purpose": "x,y", "empty": ""}

    def test_absent_parts_are_left_out(self) -> None:
        event = event_for(request(path="/openapi.json", method="GET"), RouteSpec("GET", "/openapi.json", "o", "public"))

        assert {"body", "cookies", "queryStringParameters", "pathParameters"}.isdisjoint(event)
        assert event["isBase64Encoded"] is False

    @pytest.mark.parametrize("content_type", ["application/json", "text/plain; charset=utf-8", "application/xml"])
    def test_text_bodies_pass_as_text(self, content_type: str) -> None:
        event = event_for(request(headers=[("Content-Type", content_type)], body=b'{"a": "\xc3\xa6"}'))

        assert event["body"] == '{"a": "æ"}'
        assert event["isBase64Encoded"] is False

    @pytest.mark.parametrize(
        "content_type",
        [
            "multipart/form-data; boundary=xyz",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
            None,
        ],
    )
    def test_other_bodies_are_base64_encoded(self, content_type: str | None) -> None:
        body = b"email=a%40b.dk&purpose=e-marketing"
        headers = [("Content-Type", content_type)] if content_type else []

        event = event_for(request(headers=headers, body=body))

        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == body

    def test_the_authorizer_gets_the_request_without_its_body(self) -> None:
        event = event_for(request(headers=[("Authorization", "Bearer k")], body=b"{}"))

        authorizer = authorizer_event(event, identity_source=["Bearer k"], region="eu-north-1")

        assert authorizer["type"] == "REQUEST"
        assert authorizer["identitySource"] == ["Bearer k"]
        assert authorizer["routeArn"] == (
            "arn:aws:execute-api:eu-north-1:123456789012:local/$default/POST/v1/public/acme/consents"
        )
        assert {"body", "isBase64Encoded"}.isdisjoint(authorizer)
        assert authorizer["headers"]["authorization"] == "Bearer k"


class TestResponses:
    def test_headers_multi_value_headers_and_cookies_are_all_sent(self) -> None:
        response = http_response(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "application/json"},
                "multiValueHeaders": {"Vary": ["Origin", "Accept"]},
                "cookies": ["a=1; Secure", "b=2"],
                "body": "{}",
            }
        )

        assert response.status == 201
        assert response.headers == [
            ("Content-Type", "application/json"),
            ("Vary", "Origin"),
            ("Vary", "Accept"),
            ("Set-Cookie", "a=1; Secure"),
            ("Set-Cookie", "b=2"),
        ]
        assert response.body == b"{}"

    def test_a_base64_body_is_decoded(self) -> None:
        response = http_response(
            {"statusCode": 200, "body": base64.b64encode(b"\x00\xff").decode(), "isBase64Encoded": True}
        )

        assert response.body == b"\x00\xff"

    def test_a_result_without_status_code_is_a_200_json_body(self) -> None:
        response = http_response({"hello": "world"})

        assert (response.status, json.loads(response.body)) == (200, {"hello": "world"})


class TestFront:
    """The WSGI app, driven by werkzeug's test client (no sockets), with a recording stand-in for the handlers."""

    @pytest.fixture
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        return []

    @pytest.fixture
    def client(self, calls: list[tuple[str, dict[str, Any]]]) -> Client:
        def invoke(function: str, event: dict[str, Any]) -> Any:
            calls.append((function, event))
            if function == "authorizer":
                allowed = event["identitySource"] == ["Bearer good"]
                return {"isAuthorized": allowed, "context": {"tenant_id": "demo"}}
            if event["rawPath"] == "/openapi.json":
                raise RuntimeError("boom")
            return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

        local = {("GET", "/_local/ping"): lambda _: Response("pong")}
        return Client(Front(Router(ROUTES), invoke, region="eu-north-1", local_endpoints=local))

    def test_local_endpoints_answer_before_routing(self, client: Client, calls: list[Any]) -> None:
        assert client.get("/_local/ping").get_data() == b"pong"
        assert calls == []

    def test_an_unknown_route_is_a_404_json_error(self, client: Client, calls: list[Any]) -> None:
        response = client.get("/v2/nothing")

        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "route_not_found"

    def test_a_public_route_reaches_its_function(self, client: Client, calls: list[Any]) -> None:
        response = client.post("/v1/public/acme/consents", json={"email": "a@b.dk"})

        assert response.get_json() == {"ok": True}
        assert [function for function, _ in calls] == ["consent_capture"]

    def test_an_admin_route_without_a_bearer_is_401_and_calls_nothing(self, client: Client, calls: list[Any]) -> None:
        response = client.get("/v1/admin/purposes")

        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert calls == []

    def test_an_admin_route_refused_by_the_authorizer_is_403(self, client: Client, calls: list[Any]) -> None:
        response = client.get("/v1/admin/purposes", headers={"Authorization": "Bearer bad"})

        assert response.status_code == 403
        assert [function for function, _ in calls] == ["authorizer"]

    def test_the_authorizer_context_reaches_the_admin_function(self, client: Client, calls: list[Any]) -> None:
        response = client.get("/v1/admin/purposes", headers={"Authorization": "Bearer good"})

        assert response.status_code == 200
        (_, authorizer), (function, event) = calls
        assert authorizer["type"] == "REQUEST"
        assert function == "admin_api"
        assert event["requestContext"]["authorizer"] == {"lambda": {"tenant_id": "demo"}}

    def test_a_raising_handler_is_a_500_internal_error(self, client: Client, calls: list[Any]) -> None:
        response = client.get("/openapi.json")

        assert response.status_code == 500
        assert response.get_json() == {"error": {"code": "internal_error"}}

    @pytest.mark.parametrize(
        "path",
        [
            "/u/eyJjIjoiYzEiLCJ0IjoiYWNtZSJ9.q1w2e3r4t5y6u7i8o9p0aa",
            "/p/eyJjIjoiYzEiLCJ0IjoiYWNtZSJ9.q1w2e3r4t5y6u7i8o9p0aa",
            "/v1/public/confirm/eyJjIjoiYzEifQ.q1w2e3r4t5y6u7i8o9p0aa",
            "/v1/auth/password-reset/str_Zm9vYmFyYmF6cXV4cXV1eA",
            "/v1/admin/things/sts_eyJhIjoiYiJ9.bWFjbWFjbWFjbWFjbWFj",
        ],
    )
    def test_the_access_log_never_shows_a_token(
        self, client: Client, caplog: pytest.LogCaptureFixture, path: str
    ) -> None:
        # Issue 20: a path token is a bearer credential; the log keeps the route, never the token
        token = path.rsplit("/", 1)[1]
        with caplog.at_level(logging.INFO, logger=f"{LOGGER}.front"):
            client.get(path)
        (line,) = [r.getMessage() for r in caplog.records if r.name == f"{LOGGER}.front"]
        assert token not in line
        assert f"{path.rsplit('/', 1)[0]}/[redacted]" in line

    def test_the_access_log_keeps_ordinary_paths(self, client: Client, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.INFO, logger=f"{LOGGER}.front"):
            client.get("/v1/admin/purposes/e-marketing", headers={"Authorization": "Bearer good"})
        assert any("/v1/admin/purposes/e-marketing" in r.getMessage() for r in caplog.records)
