"""The attacks on consent evidence, from anyone who knows a victim's address: each written as a test first.

Profile overwrite, lifting a minor with a re-posted birth date, a mail scanner opening the confirmation link,
and a public post claiming a system source.
"""

from __future__ import annotations

from typing import Any

import pytest

from samtykke.models.catalog import SourceCreate
from samtykke.services.catalog_admin import create_source
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.evidence_support import (
    ApiEvent,
    Invoke,
    confirm_tokens,
    export_of,
    open_confirm,
    post_consent,
)
from tests.integration.test_consent_capture import table_items

pytestmark = pytest.mark.integration

SCANNER_UA = "Mozilla/5.0 (compatible; SafeLinks-Scanner/1.0)"


def _signed_up(invoke: Invoke, api_event: ApiEvent, address: str, **fields: Any) -> str:
    response = post_consent(invoke, api_event, {"email": address, "purpose": ["e-marketing"], "locale": "da", **fields})
    assert response["statusCode"] == 201, response["body"]
    assert open_confirm(invoke, api_event, confirm_tokens(address)[-1])["statusCode"] == 200
    contact_id: str = body_of(response)["contact_id"]
    return contact_id


def test_an_unauthenticated_post_never_overwrites_a_stored_profile(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given Anna signed up with her name and confirmed
    anna = _signed_up(invoke, api_event, "anna@example.dk", first_name="Anna", last_name="Berg")

    # When an attacker who knows her address posts new names and a national ID
    attack = {
        "email": "anna@example.dk",
        "purpose": ["e-marketing"],
        "first_name": "Mallory",
        "last_name": "Evil",
        "national_id": "0101901234",
    }
    assert post_consent(invoke, api_event, attack)["statusCode"] == 201

    # Then her stored profile is unchanged, the new values wait as a pending change, and the log says so
    document = export_of(invoke, api_event, tenant, anna)
    profile = document["contact"]["profile"]
    assert (profile["first_name"], profile["last_name"]) == ("Anna", "Berg")
    assert "national_id" not in profile
    assert document["contact"]["pending_profile_change"]["fields"]["first_name"] == "Mallory"
    assert document["contact"]["profile_history"] == []
    proposal = document["events"][-1]
    assert proposal["evidence"]["profile_change"] == "proposed"
    assert proposal["evidence"]["profile_fields"] == ["first_name", "last_name", "national_id"]

    # And the values apply only when the owner of the mailbox confirms the link mailed for that post
    assert open_confirm(invoke, api_event, confirm_tokens("anna@example.dk")[-1])["statusCode"] == 200
    after = export_of(invoke, api_event, tenant, anna)
    assert after["contact"]["profile"]["first_name"] == "Mallory"
    assert after["contact"]["pending_profile_change"] is None
    [change] = after["contact"]["profile_history"]
    assert change["previous"] == {"first_name": "Anna", "last_name": "Berg", "national_id": None}
    assert change["new"]["last_name"] == "Evil"
    assert after["events"][-1]["type"] == "confirm"
    assert after["events"][-1]["evidence"]["profile_change"] == "applied"
    assert after["verification"]["ok"] is True

    # And the history is sealed like the profile: no plaintext name anywhere in the table
    assert not [i for i in table_items(aws) if "Anna" in str(i) or "Mallory" in str(i)]


def test_a_post_from_another_mailbox_cannot_even_propose_a_change(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given Anna signed up by email and phone
    anna = _signed_up(invoke, api_event, "anna@example.dk", first_name="Anna", phone="+45 20 12 34 56")

    # When an attacker posts her phone number with his own mailbox and a new name
    attack = {"phone": "+45 20 12 34 56", "email": "mallory@example.dk", "purpose": ["e-marketing"], "first_name": "M"}
    assert post_consent(invoke, api_event, attack)["statusCode"] == 201

    # Then nothing is proposed, and no link he could confirm was mailed to him
    document = export_of(invoke, api_event, tenant, anna)
    assert document["contact"]["profile"]["first_name"] == "Anna"
    assert document["contact"]["pending_profile_change"] is None
    for token in confirm_tokens("mallory@example.dk"):
        open_confirm(invoke, api_event, token)
    assert export_of(invoke, api_event, tenant, anna)["contact"]["profile"]["first_name"] == "Anna"


def test_a_re_posted_adult_birth_date_never_lifts_a_minor(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given a Danish 12-year-old whose consent waits for a parent
    child = {"email": "kid@example.dk", "purpose": ["e-marketing"], "birth_date": "2014-06-01"}
    first = post_consent(invoke, api_event, child)
    assert body_of(first)["purposes"][0]["status"] == "pending_parental"
    contact_id = body_of(first)["contact_id"]

    # When the same address is posted again with an adult birth date, and its link confirmed
    second = post_consent(invoke, api_event, {**child, "birth_date": "1990-01-01"})
    assert body_of(second)["purposes"][0]["status"] == "pending_parental"
    for token in confirm_tokens("kid@example.dk"):
        open_confirm(invoke, api_event, token)

    # Then the child is still a minor waiting for a parent, and the adult birth date did not apply
    document = export_of(invoke, api_event, tenant, contact_id)
    assert document["contact"]["profile"]["birth_date"] == "2014-06-01"
    assert {c["status"] for c in document["consents"]} == {"pending_parental"}
    assert all(e["status"] != "granted" for e in document["events"])


def test_a_mail_scanner_opening_the_link_confirms_nothing(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given a pending double opt-in
    response = post_consent(invoke, api_event, {"email": "scan@example.dk", "purpose": ["e-marketing"], "locale": "sv"})
    contact_id = body_of(response)["contact_id"]
    [token] = confirm_tokens("scan@example.dk")

    # When a link scanner GETs the link (twice, as they do)
    for _ in range(2):
        page = open_confirm(invoke, api_event, token, method="GET", user_agent=SCANNER_UA)
        # Then it gets a localised page with one button that posts back, and nothing changes
        assert page["statusCode"] == 200
        assert '<form method="post">' in page["body"]
        assert "Bekräfta min prenumeration" in page["body"]
        assert page["headers"]["Referrer-Policy"] == "no-referrer"
    document = export_of(invoke, api_event, tenant, contact_id)
    assert [(e["type"], e["status"]) for e in document["events"]] == [("grant", "pending")]

    # When the person presses the button
    done = open_confirm(invoke, api_event, token, user_agent="Mozilla/5.0 (iPhone) Safari/604.1")
    assert done["statusCode"] == 200

    # Then the confirmation's evidence is the person's request, never the scanner's
    confirmation = export_of(invoke, api_event, tenant, contact_id)["events"][-1]
    assert (confirmation["type"], confirmation["status"]) == ("confirm", "granted")
    assert confirmation["evidence"]["user_agent"] == "Mozilla/5.0 (iPhone) Safari/604.1"
    assert confirmation["evidence"]["ip"] == "203.0.113.7"
    assert confirmation["evidence"]["at"]


def test_a_forged_confirm_link_gets_an_error_page_on_get_and_post(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    for method in ("GET", "POST"):
        page = open_confirm(invoke, api_event, "eyJ0IjoiYWNtZSJ9.AAAAAAAAAAAAAAAAAAAAAA", method=method)
        assert page["statusCode"] == 400
        assert page["headers"]["X-Samtykke-Error"] == "invalid_token"


def test_a_public_post_may_not_claim_a_system_source(
    aws: Any, svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    before = len(table_items(aws))

    # When a public form claims the contact was imported
    response = post_consent(
        invoke, api_event, {"email": "src@example.dk", "purpose": ["e-marketing"], "source": "import"}
    )

    # Then it is refused with a coded 422, and nothing is written
    assert response["statusCode"] == 422, response["body"]
    assert body_of(response)["error"]["code"] == "source_not_public"
    assert len(table_items(aws)) == before

    # And a source the tenant marks public may be named, as the web form and the portal may by default
    create_source(svc, tenant.tenant_id, SourceCreate(source_id="landing-page", label="Landing page", public=True))
    for source in ("landing-page", "web-form", "customer-portal"):
        ok = post_consent(
            invoke, api_event, {"email": f"{source}@example.dk", "purpose": ["e-marketing"], "source": source}
        )
        assert ok["statusCode"] == 201, ok["body"]
