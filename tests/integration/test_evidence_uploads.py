"""Evidence files: presigned uploads for a consent event, checked after upload by hash, size and magic bytes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from samtykke.domain.access import Role
from samtykke.domain.ledger import first_broken_link
from samtykke.services.catalog import strip_keys
from samtykke.services.context import Services
from tests.conftest import load_event
from tests.integration.conftest import TenantFixture
from tests.integration.rights_support import PNG, admin_call, body, bucket_versions, drain, purge, s3

pytestmark = pytest.mark.integration


@pytest.fixture
def consented(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Any
) -> tuple[str, str]:
    """A contact with one granted consent: (contact id, event id)."""
    submission = {"email": "proof@example.dk", "purpose": ["sales-and-service"], "first_name": "Proof"}
    created = body(invoke("consent_capture", api_event("consent_capture_json", json_body=submission)))
    events = [i for i in svc.repo.load_contact(tenant.tenant_id, created["contact_id"]) if i["sk"].startswith("EVENT#")]
    return created["contact_id"], events[0]["event_id"]


def _ask(call: Callable[..., dict[str, Any]], contact_id: str, event_id: str, data: bytes, content_type: str) -> Any:
    return call(
        "POST",
        f"/v1/admin/contacts/{contact_id}/events/{event_id}/evidence",
        query={"content_type": content_type, "size_bytes": str(len(data)), "sha256": hashlib.sha256(data).hexdigest()},
    )


@pytest.fixture
def call(api_event: Callable[..., dict[str, Any]], invoke: Any, tenant: TenantFixture) -> Callable[..., dict[str, Any]]:
    def run(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(api_event, invoke, tenant, method, path, **kwargs)

    return run


def test_an_uploaded_screenshot_is_verified_and_locked_without_touching_the_event(
    svc: Services, aws: Any, tenant: TenantFixture, consented: tuple[str, str], call: Any, invoke: Any
) -> None:
    contact_id, event_id = consented
    before = [i for i in svc.repo.load_contact(tenant.tenant_id, contact_id) if i["sk"].startswith("EVENT#")]

    # When an admin asks for an upload slot for a PNG screenshot
    response = _ask(call, contact_id, event_id, PNG, "image/png")

    # Then the presigned PUT signs the type, the length and the SHA-256
    assert response["statusCode"] == 201, response["body"]
    slot = body(response)
    assert slot["file"]["status"] == "awaiting_upload"
    signed = parse_qs(urlsplit(slot["upload"]["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-type", "content-length", "x-amz-checksum-sha256"} <= set(signed)
    assert slot["upload"]["headers"]["Content-Type"] == "image/png"

    # When the file is uploaded and the bucket's notification reaches the checker
    s3().put_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"], Body=PNG, ContentType="image/png")
    drain(invoke, "evidence_check")

    # Then the file is verified and locked for the tenant's evidence retention (five years by default)
    files = body(call("GET", f"/v1/admin/contacts/{contact_id}/evidence"))
    assert [f["status"] for f in files] == ["verified"]
    head = s3().head_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"])
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=1800)

    # And the append-only event is exactly as it was
    after = [i for i in svc.repo.load_contact(tenant.tenant_id, contact_id) if i["sk"].startswith("EVENT#")]
    assert after == before
    assert first_broken_link([strip_keys(e) for e in after]) is None


TEXT = b"A" * len(PNG)
PDF = b"%PDF-1.7\n" + bytes(len(PNG) - 9)
MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(len(PNG) - 12)


@pytest.mark.parametrize(
    ("declared_type", "declared", "uploaded", "stored_type", "rejection"),
    [
        ("image/png", TEXT, TEXT, "image/png", "type_not_allowed"),  # a text file sent as image/png
        ("image/jpeg", MP4, MP4, "image/jpeg", "type_not_allowed"),
        ("image/png", PDF, PDF, "image/png", "type_mismatch"),  # a real PDF declared as a PNG
        ("image/png", PNG, PNG, "text/html", "type_mismatch"),  # stored with another Content-Type
        ("image/png", PNG, PNG + b"more", "image/png", "size_mismatch"),
    ],
)
def test_a_wrong_upload_is_deleted_and_the_file_flagged(
    aws: Any,
    consented: tuple[str, str],
    call: Any,
    invoke: Any,
    declared_type: str,
    declared: bytes,
    uploaded: bytes,
    stored_type: str,
    rejection: str,
) -> None:
    contact_id, event_id = consented
    slot = body(_ask(call, contact_id, event_id, declared, declared_type))

    s3().put_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"], Body=uploaded, ContentType=stored_type)
    drain(invoke, "evidence_check")

    [flagged] = body(call("GET", f"/v1/admin/contacts/{contact_id}/evidence"))
    assert flagged["status"] == "rejected"
    assert flagged["rejection"] == rejection
    assert [key for key, _, _ in bucket_versions(aws.evidence_bucket) if key == slot["file"]["key"]] == []


def test_a_hash_mismatch_is_rejected(aws: Any, consented: tuple[str, str], call: Any, invoke: Any) -> None:
    contact_id, event_id = consented
    slot = body(_ask(call, contact_id, event_id, PNG, "image/png"))
    tampered = PNG[:-1] + b"\x01"

    s3().put_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"], Body=tampered, ContentType="image/png")
    drain(invoke, "evidence_check")

    [flagged] = body(call("GET", f"/v1/admin/contacts/{contact_id}/evidence"))
    assert (flagged["status"], flagged["rejection"]) == ("rejected", "sha256_mismatch")


def test_a_second_upload_through_the_same_url_does_not_replace_a_checked_file(
    aws: Any, consented: tuple[str, str], call: Any, invoke: Any
) -> None:
    contact_id, event_id = consented
    slot = body(_ask(call, contact_id, event_id, PNG, "image/png"))
    key = slot["file"]["key"]
    s3().put_object(Bucket=aws.evidence_bucket, Key=key, Body=PNG, ContentType="image/png")
    drain(invoke, "evidence_check")

    s3().put_object(Bucket=aws.evidence_bucket, Key=key, Body=PNG[:-1] + b"\x02", ContentType="image/png")
    drain(invoke, "evidence_check")

    versions = [data for k, _, data in bucket_versions(aws.evidence_bucket) if k == key]
    assert versions == [PNG]
    assert body(call("GET", f"/v1/admin/contacts/{contact_id}/evidence"))[0]["status"] == "verified"


@pytest.mark.parametrize(
    ("content_type", "size", "status", "code"),
    [
        ("application/zip", 100, 422, "unsupported_evidence_type"),
        ("text/html", 100, 422, "unsupported_evidence_type"),
        ("image/png", 11 * 1024 * 1024, 422, "evidence_too_large"),
    ],
)
def test_only_small_png_jpeg_and_pdf_files_get_an_upload_url(
    consented: tuple[str, str], call: Any, content_type: str, size: int, status: int, code: str
) -> None:
    contact_id, event_id = consented
    response = call(
        "POST",
        f"/v1/admin/contacts/{contact_id}/events/{event_id}/evidence",
        query={"content_type": content_type, "size_bytes": str(size), "sha256": "a" * 64},
    )
    assert response["statusCode"] == status
    assert body(response)["error"]["code"] == code


def test_uploads_need_a_real_event_and_the_evidence_permission(
    consented: tuple[str, str], call: Any, tenant: TenantFixture
) -> None:
    contact_id, event_id = consented
    query = {"content_type": "image/png", "size_bytes": "10", "sha256": "a" * 64}
    unknown = call("POST", f"/v1/admin/contacts/{contact_id}/events/evt_{'0' * 32}/evidence", query=query)
    assert (unknown["statusCode"], body(unknown)["error"]["code"]) == (404, "event_not_found")
    forged = call("POST", f"/v1/admin/contacts/{contact_id}/events/../evidence", query=query)
    assert forged["statusCode"] in (404, 422)
    author = call("POST", f"/v1/admin/contacts/{contact_id}/events/{event_id}/evidence", query=query, role=Role.AUTHOR)
    assert (author["statusCode"], body(author)["error"]["code"]) == (403, "permission_denied")


def test_the_checker_reads_s3s_own_notification_format(
    svc: Services, aws: Any, tenant: TenantFixture, consented: tuple[str, str], call: Any, invoke: Any
) -> None:
    """S3 URL-encodes the key and names the version; moto's notifications do neither, so use the canonical event."""
    contact_id, event_id = consented
    slot = body(_ask(call, contact_id, event_id, PNG, "image/png"))
    put = s3().put_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"], Body=PNG, ContentType="image/png")
    purge("evidence_check")  # moto's own notification is not the one under test

    notification = load_event("s3/evidence_object_created.json")
    record = notification["Records"][0]
    record["s3"]["bucket"]["name"] = aws.evidence_bucket
    record["s3"]["object"].update(
        {"key": quote_plus(slot["file"]["key"]), "size": len(PNG), "versionId": put["VersionId"]}
    )
    event = load_event("sqs/evidence_upload.json")
    event["Records"][0]["body"] = json.dumps(notification)

    assert invoke("evidence_check", event) == {"batchItemFailures": []}
    [checked] = body(call("GET", f"/v1/admin/contacts/{contact_id}/evidence"))
    assert checked["status"] == "verified"
    item = svc.repo.get(f"T#{tenant.tenant_id}#C#{contact_id}", f"EVIDENCE#{event_id}#001")
    assert item is not None
    assert item["version_id"] == put["VersionId"]
    assert invoke("evidence_check", event) == {"batchItemFailures": []}  # the same notification again: no change


def test_an_import_declaration_takes_screenshots_too(aws: Any, call: Any, invoke: Any) -> None:
    declaration = {
        "source": "import",
        "legal_basis": "consent",
        "description": "Paper sign-up sheets from the trade fair, scanned.",
    }
    created = call(
        "POST",
        "/v1/admin/imports",
        json_body={
            "declaration": declaration,
            "purposes": ["e-marketing"],
            "file": {"size_bytes": 3, "sha256": "a" * 64},
        },
    )
    import_id = body(created)["import_id"]
    scan = b"%PDF-1.7\n" + bytes(500)

    response = call(
        "POST",
        f"/v1/admin/imports/{import_id}/evidence",
        query={
            "content_type": "application/pdf",
            "size_bytes": str(len(scan)),
            "sha256": hashlib.sha256(scan).hexdigest(),
        },
    )
    assert response["statusCode"] == 201, response["body"]
    slot = body(response)
    assert slot["file"]["key"].startswith(f"evidence/acme/imports/{import_id}/{body(created)['declaration_id']}/")
    s3().put_object(Bucket=aws.evidence_bucket, Key=slot["file"]["key"], Body=scan, ContentType="application/pdf")
    drain(invoke, "evidence_check")

    files = body(call("GET", f"/v1/admin/imports/{import_id}"))["evidence_files"]
    assert [(f["content_type"], f["status"], f["sha256"]) for f in files] == [
        ("application/pdf", "verified", hashlib.sha256(scan).hexdigest())
    ]
