"""A plain HTML form that fails gets a page or a redirect a browser can show; JSON clients still get JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.integration.conftest import ACME_THANKS, TenantFixture
from tests.integration.test_consent_capture import table_items

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def post_form(invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture) -> Callable[..., Any]:
    def post(fields: dict[str, str], accept: str = BROWSER_ACCEPT, **headers: str | None) -> dict[str, Any]:
        event = api_event(
            "consent_capture_form",
            body=urlencode(fields),
            base64_encoded=False,
            headers={"accept": accept, "content-length": None, **headers},
        )
        return invoke("consent_capture", event)

    return post


BAD_EMAIL = {"email": "anna@", "purpose": "e-marketing", "locale": "da", "source": "web-form"}


def test_a_refused_browser_form_gets_a_localised_page_with_a_way_back(aws: Any, post_form: Callable[..., Any]) -> None:
    before = table_items(aws)

    response = post_form(BAD_EMAIL)

    assert response["statusCode"] == 422
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert response["headers"]["X-Samtykke-Error"] == "invalid_email"
    page = response["body"]
    assert '<html lang="da">' in page
    assert "Tjek venligst din e-mailadresse" in page
    assert '<a href="https://www.acme.example/signup">Tilbage til formularen</a>' in page
    assert 'data-error-code="invalid_email"' in page
    assert table_items(aws) == before  # nothing written


def test_an_allowed_error_url_gets_a_303_with_the_code(aws: Any, post_form: Callable[..., Any]) -> None:
    response = post_form(BAD_EMAIL | {"error_redirect": f"{ACME_THANKS}?form=signup"})

    assert response["statusCode"] == 303
    location = urlsplit(response["headers"]["Location"])
    assert location._replace(query="").geturl() == ACME_THANKS
    assert parse_qs(location.query) == {"form": ["signup"], "error": ["invalid_email"]}


def test_an_error_url_off_the_allow_list_is_never_followed(post_form: Callable[..., Any]) -> None:
    response = post_form(BAD_EMAIL | {"error_redirect": "https://evil.example/phish"})

    assert response["statusCode"] == 422
    assert "Location" not in response["headers"]
    assert "evil.example" not in response["body"]


def test_schema_errors_and_unknown_purposes_say_the_form_is_broken(post_form: Callable[..., Any]) -> None:
    unknown = post_form(BAD_EMAIL | {"email": "anna@example.dk", "purpose": "nope", "locale": "sv"})
    assert (unknown["statusCode"], unknown["headers"]["X-Samtykke-Error"]) == (422, "unknown_purpose")
    assert "Formuläret är inte rätt inställt" in unknown["body"]

    without_locale = {name: value for name, value in BAD_EMAIL.items() if name != "locale"}
    extra = post_form(without_locale | {"surprise": "1"}, **{"accept-language": "de-DE,de;q=0.9"})
    assert extra["headers"]["X-Samtykke-Error"] == "validation_failed"
    assert "Dieses Formular ist nicht richtig eingerichtet" in extra["body"]  # no form locale: Accept-Language


def test_a_hostile_back_link_is_dropped_and_the_page_escapes_what_it_shows(post_form: Callable[..., Any]) -> None:
    response = post_form(
        BAD_EMAIL | {"page_url": 'https://www.acme.example/a"><script>alert(1)</script>'},
        referer="javascript:alert(1)",
    )

    assert "javascript:" not in response["body"]
    assert "<script>" not in response["body"]
    assert "&#34;&gt;&lt;script&gt;" in response["body"] or "&quot;&gt;&lt;script&gt;" in response["body"]


def test_json_clients_and_scripts_still_get_json(post_form: Callable[..., Any]) -> None:
    for accept in ("application/json", "*/*"):
        response = post_form(BAD_EMAIL, accept=accept)
        assert response["statusCode"] == 422
        assert json.loads(response["body"])["error"]["code"] == "invalid_email"


def test_a_form_that_succeeds_is_unchanged(post_form: Callable[..., Any]) -> None:
    response = post_form(BAD_EMAIL | {"email": "anna@example.dk", "error_redirect": ACME_THANKS})
    assert response["statusCode"] == 201
