"""Public writes whose commit succeeds and whose answer is lost: the caller hears the truth, and a retry the same.

`lost_replies` loses DynamoDB's answer after moto applied the transaction, on every one of botocore's attempts, so
the handler sees the write fail although it committed (moto ignores `ClientRequestToken`, so each retry meets the
committed write's conditions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from samtykke.adapters import aws as clients
from samtykke.adapters.repository import contact_pk
from samtykke.domain.consent import Channel
from samtykke.domain.ledger import first_broken_link
from samtykke.services.context import Services
from samtykke.services.links import LinkSigner
from tests.faults import lost_replies
from tests.integration.campaign_support import Person, seed
from tests.integration.conftest import TenantFixture, body_of

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
ApiEvent = Callable[..., dict[str, Any]]
BOTOCORE_ATTEMPTS = 3


def events_of(svc: Services, tenant_id: str, contact_id: str) -> list[dict[str, Any]]:
    items = svc.repo.load_contact(tenant_id, contact_id)
    events = [{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items if i["sk"].startswith("EVENT#")]
    return sorted(events, key=lambda e: int(e["seq"]))


def ledger_writes(request: bytes) -> bool:
    return b"EVENT#" in request


def test_a_consent_post_whose_commit_answer_is_lost_answers_201_and_logs_one_event(
    aws: Any, svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # When a web form posts a consent, and every answer to the ledger's transaction is lost after it committed
    with lost_replies(clients.dynamodb(), "TransactWriteItems", times=BOTOCORE_ATTEMPTS, when=ledger_writes) as fault:
        response = invoke("consent_capture", api_event("consent_capture_json"))

    # Then the form is told the truth (recorded, pending double opt-in), and the log holds the grant once
    assert fault.lost == BOTOCORE_ATTEMPTS
    assert response["statusCode"] == 201, response["body"]
    result = body_of(response)
    assert [p["status"] for p in result["purposes"]] == ["pending"]
    events = events_of(svc, tenant.tenant_id, result["contact_id"])
    assert [(e["type"], e["status"]) for e in events] == [("grant", "pending")]
    assert events[0]["event_id"] == result["purposes"][0]["channels"][0]["event_id"]
    assert first_broken_link(events) is None

    # And the form's retry gets the same answer
    again = invoke("consent_capture", api_event("consent_capture_json"))
    assert again["statusCode"] == 201
    assert body_of(again)["contact_id"] == result["contact_id"]
    assert [p["status"] for p in body_of(again)["purposes"]] == ["pending"]


def test_a_one_click_unsubscribe_whose_commit_answer_is_lost_answers_200_and_withdraws_once(
    aws: Any, svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given a subscriber and the unsubscribe link of their last campaign email
    person = Person(email="quit@example.dk")
    seed(svc, tenant.tenant_id, [person])
    url = LinkSigner.for_tenant(svc, tenant.tenant_id, "https://consent.example.test").unsubscribe(
        person.contact_id, "e-marketing", Channel.EMAIL, "cmp_spring"
    )
    token = url.rsplit("/", 1)[-1]
    one_click = api_event("unsubscribe_one_click", path=f"/u/{token}", path_parameters={"token": token})

    # When the mail client's one-click POST withdraws, and every answer to the commit is lost
    with lost_replies(clients.dynamodb(), "TransactWriteItems", times=BOTOCORE_ATTEMPTS, when=ledger_writes) as fault:
        response = invoke("unsubscribe", one_click)

    # Then it answers 200 (not 500): the withdrawal and the suppression are in place, logged once
    assert fault.lost == BOTOCORE_ATTEMPTS
    assert response["statusCode"] == 200, response["body"]
    events = events_of(svc, tenant.tenant_id, person.contact_id)
    assert [(e["type"], e["status"]) for e in events] == [("grant", "granted"), ("withdraw", "withdrawn")]
    assert first_broken_link(events) is None
    address = svc.repo.get_address(tenant.tenant_id, "email", events_address_index(svc, tenant, person))
    assert "email#e-marketing" in (address or {}).get("suppressions", {})

    # And the client's retry gets the same 200 and writes nothing more
    assert invoke("unsubscribe", one_click)["statusCode"] == 200
    assert len(events_of(svc, tenant.tenant_id, person.contact_id)) == 2


def events_address_index(svc: Services, tenant: TenantFixture, person: Person) -> str:
    profile = svc.repo.get(contact_pk(tenant.tenant_id, person.contact_id), "PROFILE")
    assert profile is not None
    return str(profile["email_bidx"])


def test_an_import_whose_creation_answer_is_lost_is_created_once_and_answers_201(
    aws: Any, svc: Services, tenant: TenantFixture, admin: Callable[..., dict[str, Any]]
) -> None:
    # When an import is created and the answer to its PutItem is lost after it committed (botocore repeats the put)
    request = {
        "declaration": {"source": "import", "legal_basis": "consent", "description": "A declared list."},
        "purposes": ["e-marketing"],
        "file": {"size_bytes": 20, "sha256": "0" * 64},
    }
    with lost_replies(clients.dynamodb(), "PutItem", when=lambda body: b'"IMPORT"' in body) as fault:
        response = admin("POST", "/v1/admin/imports", json_body=request)

    # Then the repeated put finds its own item: 201, and one import
    assert fault.lost == 1
    assert response["statusCode"] == 201, response["body"]
    listed = body_of(admin("GET", "/v1/admin/imports"))
    assert [i["import_id"] for i in listed["imports"]] == [body_of(response)["import_id"]]
