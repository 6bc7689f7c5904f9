"""Children (GDPR Art. 8): a parent confirms a minor's consent, and a minor found after a grant is never mailed."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import pytest

from samtykke.local.outbox import read_outbox
from tests.integration.campaign_support import admin_call as campaign_call
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.evidence_support import ApiEvent, Invoke, confirm_tokens, export_of, open_confirm, post_consent

pytestmark = pytest.mark.integration

CHILD_BIRTH_DATE = "2015-03-01"  # 11 in 2026: under Denmark's 13


def _parent_token(parent: str) -> str:
    [mail] = read_outbox(to=parent)
    message = email.message_from_string(mail["raw"], policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"/v1/public/parental/([A-Za-z0-9_\-.]+)", text)
    assert match, text
    return match.group(1)


def _parental(invoke: Invoke, api_event: ApiEvent, token: str, method: str) -> dict[str, Any]:
    name = "confirm_post" if method == "POST" else "confirm"
    event = api_event(name, path=f"/v1/public/parental/{token}", path_parameters={"token": token})
    event["headers"]["user-agent"] = event["requestContext"]["http"]["userAgent"] = "Parent's browser/1.0"
    return invoke("consent_capture", event)


def test_a_parent_confirms_a_minors_consent_from_the_emailed_page(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given a child's sign-up naming a parent
    body = {
        "email": "kid@example.dk",
        "purpose": ["e-marketing"],
        "locale": "da",
        "birth_date": CHILD_BIRTH_DATE,
        "parent_email": "Parent@Example.dk",
    }
    response = post_consent(invoke, api_event, body)
    assert body_of(response)["purposes"][0]["status"] == "pending_parental"
    child = body_of(response)["contact_id"]
    token = _parent_token("parent@example.dk")

    # When the parent's link is opened (by a scanner, say): a Danish page with one button, and nothing changes
    page = _parental(invoke, api_event, token, "GET")
    assert page["statusCode"] == 200
    assert "Jeg bekræfter som forælder" in page["body"]
    assert '<form method="post">' in page["body"]
    assert {c["status"] for c in export_of(invoke, api_event, tenant, child)["consents"]} == {"pending_parental"}

    # When the parent presses the button
    done = _parental(invoke, api_event, token, "POST")
    assert done["statusCode"] == 200
    assert "Tak: dit samtykke som forælder er registreret" in done["body"]

    # Then the consent is granted, and the child's log holds the parent's confirmation as evidence
    document = export_of(invoke, api_event, tenant, child)
    assert [(c["status"], c.get("parental_consent")) for c in document["consents"]] == [("granted", True)]
    grant, confirmation = document["events"]
    assert grant["evidence"]["parent_email"] == "parent@example.dk"
    assert confirmation["type"] == "confirm"
    assert confirmation["actor"] == {"type": "parent"}
    assert confirmation["parental_consent"] is True
    assert confirmation["evidence"]["user_agent"] == "Parent's browser/1.0"
    assert document["verification"]["ok"] is True

    # And pressing it again changes nothing
    assert _parental(invoke, api_event, token, "POST")["statusCode"] == 200
    assert len(export_of(invoke, api_event, tenant, child)["events"]) == 2


def test_a_contact_found_to_be_a_minor_after_a_grant_is_excluded_and_counted(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given a grant by someone whose age was unknown, confirmed
    posted = post_consent(invoke, api_event, {"email": "young@example.dk", "purpose": ["e-marketing"]})
    assert open_confirm(invoke, api_event, confirm_tokens("young@example.dk")[-1])["statusCode"] == 200

    # When a later post gives a child's birth date, and the mailbox's owner confirms it
    again = {"email": "young@example.dk", "purpose": ["e-marketing"], "birth_date": CHILD_BIRTH_DATE}
    post_consent(invoke, api_event, again)
    assert open_confirm(invoke, api_event, confirm_tokens("young@example.dk")[-1])["statusCode"] == 200
    document = export_of(invoke, api_event, tenant, body_of(posted)["contact_id"])
    assert document["contact"]["profile"]["birth_date"] == CHILD_BIRTH_DATE

    # Then a marketing campaign's dry run excludes them as a minor without parental consent
    created = campaign_call(
        invoke,
        api_event,
        tenant,
        "POST",
        "/v1/admin/campaigns",
        json_body={
            "name": "News",
            "purpose": "e-marketing",
            "channel": "email",
            "content": {"da": {"subject": "Nyt", "text": "Hej"}},
        },
    )
    assert created["statusCode"] == 201, created["body"]
    campaign_id = body_of(created)["campaign_id"]
    report = body_of(campaign_call(invoke, api_event, tenant, "POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))
    assert report["included"] == 0
    assert report["excluded_by_reason"] == {"minor_without_parental_consent": 1}


def test_an_erased_person_who_confirms_a_fresh_consent_comes_back_as_a_new_contact(
    aws: Any, svc: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    from tests.integration.rights_support import admin_call as rights_call
    from tests.integration.test_imports import run_import

    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return rights_call(api_event, invoke, tenant, method, path, **kwargs)

    # Given a person who signed up, confirmed, and was then erased
    first = post_consent(invoke, api_event, {"email": "back@example.dk", "purpose": ["e-marketing"]})
    old = body_of(first)["contact_id"]
    assert open_confirm(invoke, api_event, confirm_tokens("back@example.dk")[-1])["statusCode"] == 200
    assert call("POST", f"/v1/admin/contacts/{old}/erase")["statusCode"] == 200

    # When a public post names the address again: a new contact, still suppressed until its owner confirms
    again = post_consent(invoke, api_event, {"email": "back@example.dk", "purpose": ["e-marketing"]})
    new = body_of(again)["contact_id"]
    assert new != old

    def dry_run() -> dict[str, Any]:
        created = campaign_call(
            invoke,
            api_event,
            tenant,
            "POST",
            "/v1/admin/campaigns",
            json_body={
                "name": "News",
                "purpose": "e-marketing",
                "channel": "email",
                "content": {"da": {"subject": "Nyt", "text": "Hej"}},
            },
        )
        campaign_id = body_of(created)["campaign_id"]
        return body_of(campaign_call(invoke, api_event, tenant, "POST", f"/v1/admin/campaigns/{campaign_id}/dry-run"))

    assert dry_run()["included"] == 0

    # When the owner of the mailbox confirms it
    assert open_confirm(invoke, api_event, confirm_tokens("back@example.dk")[-1])["statusCode"] == 200

    # Then the new contact may be mailed, and its log says the address was erased before
    report = dry_run()
    assert report["included"] == 1, report
    confirmation = export_of(invoke, api_event, tenant, new)["events"][-1]
    assert "erased before" in confirmation["evidence"]["note"]

    # And the erasure still blocks imports, and the old contact stays erased
    csv = b"email,first_name\nback@example.dk,Back\n"
    import_id = run_import(aws, call, invoke, csv, purposes=["e-marketing"])
    assert body_of(call("GET", f"/v1/admin/imports/{import_id}"))["counts"]["suppressed"] == 1
    assert call("GET", f"/v1/admin/contacts/{old}/export")["statusCode"] == 404
