"""Access, portability and erasure: the export holds everything; after erasure nothing identifying remains."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from samtykke.adapters import evidence_queue
from samtykke.adapters.repository import contact_pk
from samtykke.domain.access import Role
from samtykke.domain.consent import ActorType, AddressKind, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.domain.ledger import first_broken_link
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.models.consent import Actor, Evidence
from samtykke.services import export as export_service
from samtykke.services.catalog import strip_keys
from samtykke.services.context import Services
from samtykke.services.evidence_deletion import ImportNotFinished, delete_requested
from samtykke.services.ledger import ContactTarget, Ledger, StateChange
from tests.conftest import load_event
from tests.integration.conftest import TenantFixture
from tests.integration.rights_support import (
    PNG,
    admin_call,
    body,
    bucket_versions,
    drain,
    raw_dump,
    s3,
    scan_table,
)
from tests.integration.test_imports import declare, run_import

pytestmark = pytest.mark.integration

EMAIL = "karen.jensen@example.dk"
PHONE = "+4520304050"
SEND_SK = "MSG#2026-11-23T10:00:00+00:00#cmp_019a5e2b4c1d0a1b2c3d4e5f6a7b8c9d"


@pytest.fixture
def call(api_event: Callable[..., dict[str, Any]], invoke: Any, tenant: TenantFixture) -> Callable[..., dict[str, Any]]:
    def run(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(api_event, invoke, tenant, method, path, **kwargs)

    return run


def _capture(invoke: Any, submission: dict[str, Any]) -> str:
    event = load_event("apigw/consent_capture_json.json")
    event["body"] = json.dumps(submission)
    event["headers"]["content-type"] = "application/json"
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 201, response["body"]
    return str(json.loads(response["body"])["contact_id"])


@pytest.fixture
def karen(svc: Services, tenant: TenantFixture, invoke: Any) -> str:
    """A contact with a grant, an unsubscribe-like withdrawal, an SMS STOP and a send."""
    contact_id = _capture(
        invoke,
        {
            "email": EMAIL,
            "phone": PHONE,
            "purpose": ["sales-and-service", "e-marketing"],
            "first_name": "Karen",
            "last_name": "Jensen",
            "birth_date": "1980-02-03",
        },
    )
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    ledger = Ledger(svc, keys)
    at = svc.clock().isoformat()
    # An unsubscribe from sales-and-service by email (as the unsubscribe link does it)
    ledger.write(
        ContactTarget(
            contact_id=contact_id,
            suppressions=[
                (
                    AddressKind.EMAIL,
                    suppression_key(Channel.EMAIL, "sales-and-service"),
                    {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": at},
                )
            ],
        ),
        lambda _: [
            StateChange(
                "sales-and-service",
                Channel.EMAIL,
                EventType.WITHDRAW,
                ConsentStatus.WITHDRAWN,
                LegalBasis.WITHDRAWN,
                "unsubscribe-link",
            )
        ],
        Actor(type=ActorType.CONTACT),
        Evidence(at=svc.clock(), ip="198.51.100.20", user_agent="Mail client"),
    )
    # An SMS STOP (as the SMS webhook does it): every SMS suppressed, e-marketing by SMS withdrawn
    ledger.write(
        ContactTarget(
            contact_id=contact_id,
            suppressions=[
                (
                    AddressKind.PHONE,
                    suppression_key(Channel.SMS),
                    {"reason": SuppressionReason.SMS_STOP.value, "at": at},
                )
            ],
        ),
        lambda _: [
            StateChange(
                "e-marketing",
                Channel.SMS,
                EventType.WITHDRAW,
                ConsentStatus.WITHDRAWN,
                LegalBasis.WITHDRAWN,
                "sms-keyword",
            )
        ],
        Actor(type=ActorType.SMS_PROVIDER, id="twilio", on_behalf_of=ActorType.CONTACT),
        Evidence(at=svc.clock(), keyword="STOP", provider_message_id="SM0123456789"),
    )
    # A send, as the campaigns capability will record it (a test fixture until campaigns exist)
    svc.repo.put(
        {
            "pk": contact_pk(tenant.tenant_id, contact_id),
            "sk": SEND_SK,
            "campaign_id": "cmp_019a5e2b4c1d0a1b2c3d4e5f6a7b8c9d",
            "purpose": "e-marketing",
            "channel": "email",
            "sent_at": "2026-11-23T10:00:00+00:00",
            "message_id": "0100018f-example",
        }
    )
    return contact_id


def test_an_export_holds_the_grant_the_withdrawal_the_stop_and_the_send(
    karen: str, call: Callable[..., dict[str, Any]]
) -> None:
    response = call("GET", f"/v1/admin/contacts/{karen}/export")

    assert response["statusCode"] == 200, response["body"]
    document = body(response)
    assert document["export_version"] == 1
    assert document["contact"]["profile"] == {
        "email": EMAIL,
        "phone": PHONE,
        "first_name": "Karen",
        "last_name": "Jensen",
        "birth_date": "1980-02-03",
        "locale": "da",
    }
    kinds = [(e["type"], e["purpose"], e["channel"], e["status"]) for e in document["events"]]
    assert ("grant", "sales-and-service", "email", "granted") in kinds
    assert ("withdraw", "sales-and-service", "email", "withdrawn") in kinds
    assert ("withdraw", "e-marketing", "sms", "withdrawn") in kinds
    stop = next(e for e in document["events"] if e["channel"] == "sms" and e["type"] == "withdraw")
    assert stop["evidence"]["keyword"] == "STOP"
    assert stop["actor"] == {"type": "sms_provider", "id": "twilio", "on_behalf_of": "contact"}
    assert document["chain_intact"] is True
    assert {(s["address_kind"], s["channel"], s["purpose"], s["reason"]) for s in document["suppressions"]} == {
        ("email", "email", "sales-and-service", "unsubscribed"),
        ("phone", "sms", "*", "sms_stop"),
    }
    assert document["sends"] == [
        {
            "campaign_id": "cmp_019a5e2b4c1d0a1b2c3d4e5f6a7b8c9d",
            "purpose": "e-marketing",
            "channel": "email",
            "sent_at": "2026-11-23T10:00:00+00:00",
            "message_id": "0100018f-example",
        }
    ]
    states = {(c["purpose"], c["channel"]): c["status"] for c in document["consents"]}
    assert states[("e-marketing", "email")] == "pending"
    assert states[("sales-and-service", "email")] == "withdrawn"

    # The same person found by phone, as HTML for a human reader
    page = call("GET", "/v1/admin/contacts/export", query={"phone": "20 30 40 50", "format": "html"})
    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    for text in ("Karen", EMAIL, "sms_stop", "unsubscribed", "cmp_019a5e2b4c1d0a1b2c3d4e5f6a7b8c9d"):
        assert text in page["body"]


def test_sensitive_fields_are_decrypted_only_for_a_caller_who_may_read_them(
    svc: Services, karen: str, tenant: TenantFixture, call: Callable[..., dict[str, Any]]
) -> None:
    assert call("PATCH", "/v1/admin/settings", json_body={"sensitive_fields": ["birth_date"]})["statusCode"] == 200

    as_editor = body(call("GET", f"/v1/admin/contacts/{karen}/export", role=Role.EDITOR))
    as_admin = body(call("GET", f"/v1/admin/contacts/{karen}/export"))

    assert as_editor["contact"]["profile"]["birth_date"] == "[redacted]"
    assert as_admin["contact"]["profile"]["birth_date"] == "1980-02-03"
    assert call("GET", f"/v1/admin/contacts/{karen}/export", role=Role.AUTHOR)["statusCode"] == 403


def test_a_big_export_is_handed_out_as_a_link(
    aws: Any, karen: str, call: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_service, "INLINE_LIMIT_BYTES", 1000)

    response = call("GET", f"/v1/admin/contacts/{karen}/export")

    assert response["statusCode"] == 200
    link = body(response)
    assert set(link) >= {"export_id", "download_url", "expires_at", "size_bytes", "sha256"}
    [(key, _, data)] = [v for v in bucket_versions(aws.evidence_bucket) if v[0].startswith("exports/")]
    assert key.endswith(f"{link['export_id']}.json")
    assert hashlib.sha256(data).hexdigest() == link["sha256"]
    assert json.loads(data)["contact"]["contact_id"] == karen
    retention = s3().head_object(Bucket=aws.evidence_bucket, Key=key)
    assert retention["ObjectLockMode"] == "GOVERNANCE"


def test_the_consent_form_shows_each_consent_with_its_text_basis_and_source(
    karen: str, call: Callable[..., dict[str, Any]]
) -> None:
    settings = {
        "privacy_policy_url": "https://acme.example/privacy",
        "sub_processors": [{"name": "Mailjet", "purpose": "Newsletter delivery", "agreement_date": "2024-03-01"}],
    }
    assert call("PATCH", "/v1/admin/settings", json_body=settings)["statusCode"] == 200
    label = {"label": "Samtykke (art. 6, stk. 1, litra a)"}
    assert call("PUT", "/v1/admin/legal-bases/consent", json_body=label)["statusCode"] == 200

    response = call("GET", f"/v1/admin/contacts/{karen}/consent-form", query={"locale": "da"})

    assert response["statusCode"] == 200
    page = response["body"]
    for text in (
        "Samtykkeerklæring",
        "Salg og kundeservice",
        "E-markedsføring",
        "Samtykke (art. 6, stk. 1, litra a)",
        "Ja tak, send mig nyhedsbreve",
        "https://acme.example/privacy",
        "Mailjet",
        "2024-03-01",
        "Karen Jensen",
        "@page",
    ):
        assert text in page, text


def test_erasure_leaves_no_trace_of_the_address_but_its_keyed_hash_and_a_reimport_is_refused(
    svc: Services,
    aws: Any,
    tenant: TenantFixture,
    karen: str,
    call: Callable[..., dict[str, Any]],
    invoke: Any,
) -> None:
    # Given the contact has an evidence screenshot and a big export in the bucket
    event_id = next(
        i["event_id"] for i in svc.repo.load_contact(tenant.tenant_id, karen) if i["sk"].startswith("EVENT#")
    )
    slot = body(
        call(
            "POST",
            f"/v1/admin/contacts/{karen}/events/{event_id}/evidence",
            query={"content_type": "image/png", "size_bytes": str(len(PNG)), "sha256": hashlib.sha256(PNG).hexdigest()},
        )
    )
    s3().put_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"], Body=PNG, ContentType="image/png")
    drain(invoke, "evidence_check")
    head = svc.repo.get(contact_pk(tenant.tenant_id, karen), "PROFILE")
    assert head is not None
    sealed_profile = bytes(head["profile"])
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    email_index = keys.blind_index("email", EMAIL)
    # (the scans below do find what erasure must remove, before it does)
    assert any(sealed_profile in raw_dump(item) for item in scan_table(aws.table_name))
    assert any(karen in key for key, _, _ in bucket_versions(aws.evidence_bucket))

    # When the person is erased
    response = call("POST", f"/v1/admin/contacts/{karen}/erase")

    # Then the erasure withdrew every consent and deleted the evidence, and says so
    assert response["statusCode"] == 200, response["body"]
    result = body(response)
    assert result["erased"] is True
    assert result["withdrawn_states"] == 4
    assert result["evidence_objects_deleted"] == 1
    assert result["suppressed_addresses"] == 2
    # (evidence_check, the one role with the governance bypass, deletes the objects erasure queued for it)
    assert drain(invoke, "evidence_check") == 1

    # And neither the email nor its ciphertext is anywhere in the table or in any version of any object
    needles = [EMAIL.encode(), b"Karen", PHONE.encode(), sealed_profile]
    for item in scan_table(aws.table_name):
        dumped = raw_dump(item)
        for needle in needles:
            assert needle not in dumped, f"{needle!r} found in {item['pk']} {item['sk']}"
    for key, _, data in bucket_versions(aws.evidence_bucket):
        assert karen not in key
        for needle in needles:
            assert needle not in data

    # And the tombstone keeps the log, whose chain still verifies, but no key to read it
    items = svc.repo.load_contact(tenant.tenant_id, karen)
    tombstone = next(i for i in items if i["sk"] == "PROFILE")
    assert tombstone["erased"] is True
    assert "wrapped_key" not in tombstone
    assert "profile" not in tombstone
    events = [strip_keys(i) for i in items if i["sk"].startswith("EVENT#")]
    assert first_broken_link(events) is None
    assert events[-1]["type"] == "erase"
    assert all(i["status"] == "withdrawn" and "gsi1pk" not in i for i in items if i["sk"].startswith("STATE#"))

    # And a search by the old address finds only the suppression marker
    address = svc.repo.get_address(tenant.tenant_id, "email", email_index)
    assert address is not None
    assert "contact_id" not in address
    assert address["suppressions"]["email#*"]["reason"] == "erased"
    assert call("GET", "/v1/admin/contacts", query={"email": EMAIL})["statusCode"] == 404
    assert call("GET", f"/v1/admin/contacts/{karen}/export")["statusCode"] == 404

    # And erasing again is harmless
    again = call("POST", f"/v1/admin/contacts/{karen}/erase")
    assert (again["statusCode"], body(again)["already_erased"]) == (200, True)

    # And a re-import of the address is refused as suppressed
    csv = f"email,first_name\n{EMAIL},Karen\n".encode()
    import_id = run_import(aws, call, invoke, csv, purposes=["e-marketing", "sales-and-service"])
    view = body(call("GET", f"/v1/admin/imports/{import_id}"))
    assert view["counts"]["suppressed"] == 1
    assert view["counts"]["imported"] == 0
    issues = body(call("GET", f"/v1/admin/imports/{import_id}/issues"))["issues"]
    assert [(i["line"], i["code"]) for i in issues] == [(2, "suppressed")]
    assert "erased" in issues[0]["detail"]
    assert svc.repo.get_address(tenant.tenant_id, "email", email_index) == address


def test_erasure_needs_the_permission_and_a_real_contact(karen: str, call: Callable[..., dict[str, Any]]) -> None:
    assert call("POST", f"/v1/admin/contacts/{karen}/erase", role=Role.AUTHOR)["statusCode"] == 403
    assert call("POST", f"/v1/admin/contacts/{karen}/erase", role=Role.VIEWER)["statusCode"] == 403
    unknown = call("POST", f"/v1/admin/contacts/con_{'0' * 32}/erase")
    assert (unknown["statusCode"], body(unknown)["error"]["code"]) == (404, "contact_not_found")
    assert body(call("GET", f"/v1/admin/contacts/{karen}/export"))["contact"]["contact_id"] == karen


def test_a_deletion_request_for_a_contact_not_erased_deletes_nothing(
    svc: Services,
    aws: Any,
    tenant: TenantFixture,
    karen: str,
    call: Callable[..., dict[str, Any]],
    invoke: Any,
) -> None:
    # Given the contact has a verified evidence screenshot
    event_id = next(
        i["event_id"] for i in svc.repo.load_contact(tenant.tenant_id, karen) if i["sk"].startswith("EVENT#")
    )
    slot = body(
        call(
            "POST",
            f"/v1/admin/contacts/{karen}/events/{event_id}/evidence",
            query={"content_type": "image/png", "size_bytes": str(len(PNG)), "sha256": hashlib.sha256(PNG).hexdigest()},
        )
    )
    s3().put_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"], Body=PNG, ContentType="image/png")
    drain(invoke, "evidence_check")

    # When a role that may queue deletions (an admin router, the console, the sweeper) asks for its files, and for
    # the CSV of an import that has not run, without any erasure
    evidence_queue.request_contact_files_deletion(tenant.tenant_id, karen, reason="erasure")
    csv = b"email\nx@example.dk\n"
    created = declare(call, csv)
    csv_key = f"imports/{tenant.tenant_id}/{created['import_id']}/source.csv"
    s3().put_object(Bucket=aws.evidence_bucket, Key=csv_key, Body=csv)
    request = {"kind": "import_file", "tenant_id": tenant.tenant_id, "import_id": created["import_id"]}

    # Then evidence_check, the one role with the governance bypass, refuses: the table shows no erasure
    drain(invoke, "evidence_check")
    assert [key for key, _, _ in bucket_versions(aws.evidence_bucket) if karen in key] == [slot["file"]["key"]]
    # And a running import's CSV waits (a retry), until the import has finished
    with pytest.raises(ImportNotFinished):
        delete_requested(svc, request)
    assert csv_key in {key for key, _, _ in bucket_versions(aws.evidence_bucket)}
