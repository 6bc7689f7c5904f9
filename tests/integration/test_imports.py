"""Lawful imports: declared, uploaded, processed in resumable chunks, every row reported or imported exactly once."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from samtykke.domain.access import Role
from samtykke.domain.consent import ActorType, AddressKind, Channel, ConsentStatus, EventType, LegalBasis
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.local.moto_speedups import cheap_transaction_rollback
from samtykke.models.consent import Actor, Evidence
from samtykke.services import imports as imports_service
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, StateChange
from tests.integration.conftest import TenantFixture
from tests.integration.rights_support import admin_call, body, bucket_versions, drain, s3

pytestmark = pytest.mark.integration

DESCRIPTION = "Sign-ups collected on paper at the Copenhagen trade fair, March 2026."


@pytest.fixture
def call(api_event: Callable[..., dict[str, Any]], invoke: Any, tenant: TenantFixture) -> Callable[..., dict[str, Any]]:
    def run(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(api_event, invoke, tenant, method, path, **kwargs)

    return run


def declare(call: Callable[..., dict[str, Any]], csv: bytes, **overrides: Any) -> dict[str, Any]:
    request = {
        "declaration": {"source": "import", "legal_basis": "consent", "description": DESCRIPTION},
        "purposes": ["e-marketing"],
        "file": {"size_bytes": len(csv), "sha256": hashlib.sha256(csv).hexdigest()},
        **overrides,
    }
    response = call("POST", "/v1/admin/imports", json_body=request)
    assert response["statusCode"] == 201, response["body"]
    return body(response)


def run_import(aws: Any, call: Callable[..., dict[str, Any]], invoke: Any, csv: bytes, **overrides: Any) -> str:
    created = declare(call, csv, **overrides)
    key = f"imports/acme/{created['import_id']}/source.csv"
    headers = created["upload"]["headers"]
    assert headers["x-amz-object-lock-mode"] == "GOVERNANCE"  # a short lock of its own, not the evidence retention
    s3().put_object(  # what the presigned PUT does with those headers
        Bucket=aws.evidence_bucket,
        Key=key,
        Body=csv,
        ContentType=headers["Content-Type"],
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime.fromisoformat(headers["x-amz-object-lock-retain-until-date"]),
    )
    started = call("POST", f"/v1/admin/imports/{created['import_id']}/start")
    assert started["statusCode"] == 202, started["body"]
    drain(invoke, "import_processor")
    return str(created["import_id"])


def issues_of(call: Callable[..., dict[str, Any]], import_id: str) -> dict[int, tuple[str, str]]:
    found: dict[int, tuple[str, str]] = {}
    cursor = None
    while True:
        query = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = body(call("GET", f"/v1/admin/imports/{import_id}/issues", query=query))
        found |= {i["line"]: (i["kind"], i["code"]) for i in page["issues"]}
        cursor = page["next_cursor"]
        if not cursor:
            return found


def keys_of(svc: Services, tenant: TenantFixture) -> Any:
    return svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)


def import_events(svc: Services, tenant: TenantFixture, email: str) -> list[dict[str, Any]]:
    contact_id = svc.repo.find_contact_id(tenant.tenant_id, "email", keys_of(svc, tenant).blind_index("email", email))
    if contact_id is None:
        return []
    items = svc.repo.load_contact(tenant.tenant_id, contact_id)
    return [i for i in items if i["sk"].startswith("EVENT#") and i["type"] == "import"]


def test_an_import_without_a_declaration_is_refused(call: Callable[..., dict[str, Any]]) -> None:
    request = {"purposes": ["e-marketing"], "file": {"size_bytes": 3, "sha256": "a" * 64}}
    response = call("POST", "/v1/admin/imports", json_body=request)
    assert (response["statusCode"], body(response)["error"]["code"]) == (422, "declaration_required")

    for declaration, code in (
        ({"source": "nowhere", "legal_basis": "consent", "description": DESCRIPTION}, "unknown_source"),
        ({"source": "import", "legal_basis": "withdrawn", "description": DESCRIPTION}, "invalid_legal_basis"),
        ({"source": "import", "legal_basis": "consent", "description": "short"}, "validation_failed"),
    ):
        response = call("POST", "/v1/admin/imports", json_body={**request, "declaration": declaration})
        assert (response["statusCode"], body(response)["error"]["code"]) == (422, code), response["body"]

    author = call(
        "POST",
        "/v1/admin/imports",
        json_body={
            **request,
            "declaration": {"source": "import", "legal_basis": "consent", "description": DESCRIPTION},
        },
        role=Role.AUTHOR,
    )
    assert author["statusCode"] == 403


def test_an_import_that_names_no_basis_records_each_purposes_default_and_consent_for_marketing(
    svc: Services, aws: Any, tenant: TenantFixture, call: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    # Given a file with no basis column, declared without a legal basis, for a service and a marketing purpose
    csv = b"email\nservice@example.dk\n"
    declaration = {"source": "import", "description": DESCRIPTION}
    run_import(aws, call, invoke, csv, declaration=declaration, purposes=["sales-and-service", "e-marketing"])

    # Then the service purpose records its default basis (contract) and the marketing purpose consent
    events = import_events(svc, tenant, "service@example.dk")
    recorded = {e["purpose"]: e["legal_basis"] for e in events}
    assert recorded == {"sales-and-service": "contract", "e-marketing": "consent"}


def test_a_stated_basis_wins_on_a_service_purpose_and_a_marketing_purpose_is_imported_on_consent_only(
    svc: Services, aws: Any, tenant: TenantFixture, call: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    csv = b"email\nstated@example.dk\n"
    stated = {"source": "import", "legal_basis": "legitimate_interests", "description": DESCRIPTION}
    run_import(aws, call, invoke, csv, declaration=stated, purposes=["sales-and-service"])
    assert [e["legal_basis"] for e in import_events(svc, tenant, "stated@example.dk")] == ["legitimate_interests"]

    request = {"declaration": stated, "purposes": ["e-marketing"], "file": {"size_bytes": 3, "sha256": "a" * 64}}
    refused = call("POST", "/v1/admin/imports", json_body=request)
    assert (refused["statusCode"], body(refused)["error"]["code"]) == (422, "marketing_requires_consent")


def test_starting_before_the_upload_is_a_coded_conflict(call: Callable[..., dict[str, Any]]) -> None:
    created = declare(call, b"email\n")
    response = call("POST", f"/v1/admin/imports/{created['import_id']}/start")
    assert (response["statusCode"], body(response)["error"]["code"]) == (409, "upload_missing")
    assert body(call("GET", f"/v1/admin/imports/{created['import_id']}"))["status"] == "awaiting_upload"
    unknown = call("GET", f"/v1/admin/imports/imp_{'0' * 32}")
    assert (unknown["statusCode"], body(unknown)["error"]["code"]) == (404, "import_not_found")
    forged = base64.urlsafe_b64encode(json.dumps({"pk": "T#other#IMP#x", "sk": "ISSUE#1", "x": 1}).encode()).decode()
    for cursor in ("not base64 at all", forged):
        page = call("GET", f"/v1/admin/imports/{created['import_id']}/issues", query={"cursor": cursor})
        assert (page["statusCode"], body(page)["error"]["code"]) == (400, "invalid_cursor")


def test_each_row_is_imported_or_reported_and_suppressed_addresses_are_never_granted(
    svc: Services, aws: Any, tenant: TenantFixture, call: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    keys = keys_of(svc, tenant)
    # Given an address that unsubscribed before, and a contact who withdrew e-marketing
    stopped = keys.blind_index("email", "stopped@example.dk")
    unsubscribed = {"reason": SuppressionReason.UNSUBSCRIBED.value, "at": "2026-01-01T00:00:00+00:00"}
    svc.repo.set_address_suppression(tenant.tenant_id, "email", stopped, suppression_key(Channel.EMAIL), unsubscribed)
    capture = {"email": "withdrew@example.dk", "purpose": ["sales-and-service"]}
    invoke("consent_capture", _capture_event(capture))
    Ledger(svc, keys).write(
        ContactTarget(addresses=[_address(keys, "withdrew@example.dk")]),
        lambda _: [_change("e-marketing", Channel.EMAIL, EventType.WITHDRAW, ConsentStatus.WITHDRAWN)],
        Actor(type=ActorType.CONTACT),
        Evidence(at=svc.clock()),
    )
    csv = "\n".join(
        [
            "Email;Phone;First name;birth_date",  # line 1: semicolons, as Danish spreadsheets write
            "anna@example.dk;+45 20 12 34 56;Anna;1990-05-01",  # 2: imported on email and SMS
            "not-an-email;;Bo;",  # 3: invalid
            ";;Carl;",  # 4: no address
            "stopped@example.dk;;Dora;",  # 5: suppressed
            "withdrew@example.dk;;Eva;",  # 6: withdrawn before: never re-granted
            "kid@example.dk;;Finn;2020-01-01",  # 7: a minor
            "ANNA@example.dk;;Anna;",  # 8: the same address again
            '"quoted@example.dk";;"Gry; with a semicolon";',  # 9: imported
            "date@example.dk;;Hans;01-05-1990",  # 10: invalid date
            "",  # 11: blank, not a row
            '"unbalanced@example.dk;;Ida;',  # 12: an unbalanced quote costs this row only
            "last@example.dk;;Jens;",  # 13: imported
        ]
    ).encode()

    import_id = run_import(aws, call, invoke, csv, purposes=["e-marketing"])

    view = body(call("GET", f"/v1/admin/imports/{import_id}"))
    assert view["status"] == "completed"
    assert view["counts"] == {
        "rows": 11,
        "imported": 3,
        "invalid": 4,
        "suppressed": 1,
        "skipped": 2,
        "duplicates": 1,
    }
    assert issues_of(call, import_id) == {
        3: ("invalid", "invalid_email"),
        4: ("invalid", "address_required"),
        5: ("skipped", "suppressed"),
        6: ("skipped", "previously_withdrawn"),
        7: ("skipped", "minor"),
        8: ("skipped", "duplicate"),
        10: ("invalid", "invalid_birth_date"),
        12: ("invalid", "unbalanced_quotes"),
    }
    assert import_events(svc, tenant, "stopped@example.dk") == []
    assert [e["type"] for e in _all_events(svc, tenant, "withdrew@example.dk")] == ["withdraw"]

    # Every imported address carries the declaration, the declared basis and source, and who imported it
    events = import_events(svc, tenant, "anna@example.dk")
    assert {(e["purpose"], e["channel"]) for e in events} == {("e-marketing", "email"), ("e-marketing", "sms")}
    for event in events:
        assert event["declaration_id"] == view["declaration_id"]
        assert (event["legal_basis"], event["source"], event["status"]) == ("consent", "import", "granted")
        assert event["actor"] == {"type": "api_key", "id": tenant.key_id}
    assert len(import_events(svc, tenant, "quoted@example.dk")) == 1
    log = body(call("GET", "/v1/admin/consent-log", query={"email": "anna@example.dk"}))
    assert f"Import {import_id}, line 2" in log["events"][0]["evidence"]["note"]

    # And the CSV, which holds the addresses in clear, is gone from the bucket, deleted by evidence_check (the one
    # role with the governance bypass) on the import's request
    drain(invoke, "evidence_check")
    assert [k for k, _, _ in bucket_versions(aws.evidence_bucket) if k.startswith("imports/")] == []


def test_a_file_that_is_not_the_declared_one_fails_and_imports_nothing(
    svc: Services, aws: Any, tenant: TenantFixture, call: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    declared = b"email\nx@example.dk\n"
    created = declare(call, declared)
    key = f"imports/acme/{created['import_id']}/source.csv"
    s3().put_object(Bucket=aws.evidence_bucket, Key=key, Body=b"email\ny@example.dk\n", ContentType="text/csv")
    assert call("POST", f"/v1/admin/imports/{created['import_id']}/start")["statusCode"] == 202
    drain(invoke, "import_processor")

    view = body(call("GET", f"/v1/admin/imports/{created['import_id']}"))
    assert (view["status"], view["problem"]) == ("failed", "checksum_mismatch")
    assert import_events(svc, tenant, "y@example.dk") == []
    again = call("POST", f"/v1/admin/imports/{created['import_id']}/start")
    assert (again["statusCode"], body(again)["error"]["code"]) == (409, "import_finished")


def test_a_rerun_of_a_chunk_whose_cursor_was_lost_duplicates_nothing(
    svc: Services,
    aws: Any,
    tenant: TenantFixture,
    call: Callable[..., dict[str, Any]],
    invoke: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imports_service, "BATCH_ROWS", 10)
    monkeypatch.setattr(imports_service, "ROWS_PER_INVOCATION", 30)
    csv = ("email,first_name\n" + "".join(f"rerun{i}@example.dk,R{i}\n" for i in range(75))).encode()
    created = declare(call, csv)
    import_id = created["import_id"]
    s3().put_object(Bucket=aws.evidence_bucket, Key=f"imports/acme/{import_id}/source.csv", Body=csv)
    call("POST", f"/v1/admin/imports/{import_id}/start")
    drain_one = _one_chunk(invoke)

    # Given a first chunk that imported 30 rows and saved its cursor
    drain_one()
    repo = imports_service.rights_repo(svc)
    saved = repo.get(f"T#acme#IMP#{import_id}", "IMPORT")
    assert saved is not None
    assert saved["counts"]["imported"] == 30
    # And a second chunk whose cursor save was lost (a worker that died after writing to the ledger)
    drain_one()
    lost = repo.get(f"T#acme#IMP#{import_id}", "IMPORT")
    assert lost is not None
    repo.update(
        lost["pk"],
        lost["sk"],
        {k: saved[k] for k in ("offset", "next_line", "counts")},
        condition="attribute_exists(pk)",
    )

    # When the chunk is delivered again and the import runs to the end
    drain(invoke, "import_processor")

    # Then every address has exactly one import event, and the rows written twice are known as this import's own
    # (their events carry the row), so they count as imported, not as duplicates
    view = body(call("GET", f"/v1/admin/imports/{import_id}"))
    assert view["status"] == "completed"
    assert view["counts"]["rows"] == 75
    assert (view["counts"]["imported"], view["counts"]["duplicates"]) == (75, 0)
    for i in range(75):
        assert len(import_events(svc, tenant, f"rerun{i}@example.dk")) == 1


def test_ten_thousand_rows_with_three_percent_bad_import_the_good_ones(
    svc: Services,
    aws: Any,
    tenant: TenantFixture,
    call: Callable[..., dict[str, Any]],
    invoke: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad_lines = set(list(range(5, 10_002, 33))[:300])  # 3 % of the rows, spread through the file
    rows = []
    for line in range(2, 10_002):
        if line in bad_lines:
            rows.append(f"broken-{line}.example.dk,Bad {line}")
        else:
            rows.append(f"person{line}@example.dk,Person {line}")
    assert len(bad_lines) == 300
    csv = ("email,first_name\n" + "\n".join(rows) + "\n").encode()

    with cheap_transaction_rollback(monkeypatch):
        import_id = run_import(aws, call, invoke, csv)

    view = body(call("GET", f"/v1/admin/imports/{import_id}"))
    assert view["status"] == "completed"
    assert view["counts"]["rows"] == 10_000
    assert view["counts"]["imported"] == 10_000 - 300
    assert view["counts"]["invalid"] == 300
    assert issues_of(call, import_id) == dict.fromkeys(bad_lines, ("invalid", "invalid_email"))
    assert len(import_events(svc, tenant, "person9999@example.dk")) == 1


def _one_chunk(invoke: Any) -> Callable[[], None]:
    import os

    from samtykke.resources import ENV_IMPORT_QUEUE_URL
    from tests.conftest import load_event
    from tests.integration.rights_support import sqs

    def deliver() -> None:
        url = os.environ[ENV_IMPORT_QUEUE_URL]
        [message] = sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
        event = load_event("sqs/import_chunk.json")
        event["Records"][0]["body"] = message["Body"]
        invoke("import_processor", event)
        sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return deliver


def _capture_event(submission: dict[str, Any]) -> dict[str, Any]:
    import json

    from tests.conftest import load_event

    event = load_event("apigw/consent_capture_json.json")
    event["body"] = json.dumps(submission)
    event["headers"]["content-type"] = "application/json"
    return event


def _address(keys: Any, email: str) -> Any:
    from samtykke.services.ledger import Address

    return Address(AddressKind.EMAIL, email, keys.blind_index("email", email))


def _change(purpose: str, channel: Channel, kind: EventType, status: ConsentStatus) -> StateChange:
    basis = LegalBasis.WITHDRAWN if status is ConsentStatus.WITHDRAWN else LegalBasis.CONSENT
    return StateChange(purpose, channel, kind, status, basis, "unsubscribe-link")


def _all_events(svc: Services, tenant: TenantFixture, email: str) -> list[dict[str, Any]]:
    contact_id = svc.repo.find_contact_id(tenant.tenant_id, "email", keys_of(svc, tenant).blind_index("email", email))
    assert contact_id is not None
    return [
        i
        for i in svc.repo.load_contact(tenant.tenant_id, contact_id)
        if i["sk"].startswith("EVENT#") and i["purpose"] == "e-marketing"
    ]


def test_an_address_claimed_between_lookup_and_write_is_decided_again_on_its_owner(
    svc: Services,
    aws: Any,
    tenant: TenantFixture,
    call: Callable[..., dict[str, Any]],
    invoke: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = keys_of(svc, tenant)
    invoke("consent_capture", _capture_event({"email": "race@example.dk", "purpose": ["sales-and-service"]}))
    Ledger(svc, keys).write(
        ContactTarget(addresses=[_address(keys, "race@example.dk")]),
        lambda _: [_change("e-marketing", Channel.EMAIL, EventType.WITHDRAW, ConsentStatus.WITHDRAWN)],
        Actor(type=ActorType.CONTACT),
        Evidence(at=svc.clock()),
    )
    # The lookup sees no owner, as if the address were claimed just after it (a concurrent sign-up)
    monkeypatch.setattr(imports_service.RightsRepository, "addresses", lambda *_: {})

    import_id = run_import(aws, call, invoke, b"email\nfresh@example.dk\nrace@example.dk\n")

    view = body(call("GET", f"/v1/admin/imports/{import_id}"))
    assert (view["counts"]["imported"], view["counts"]["skipped"]) == (1, 1)
    assert issues_of(call, import_id) == {3: ("skipped", "previously_withdrawn")}
    assert len(import_events(svc, tenant, "fresh@example.dk")) == 1
    assert import_events(svc, tenant, "race@example.dk") == []


def test_lost_answers_and_a_transient_fault_neither_stall_the_import_nor_turn_its_rows_into_duplicates(
    svc: Services,
    aws: Any,
    tenant: TenantFixture,
    call: Callable[..., dict[str, Any]],
    invoke: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from samtykke.adapters import aws as clients
    from samtykke.domain.errors import RetryableError
    from tests.faults import lost_replies

    # Given a 60-row file (with one row twice), imported in batches of 20, where the first batch's new contacts
    # commit but every answer is lost, a cursor save commits but its answer is lost, and one issue write throttles
    monkeypatch.setattr(imports_service, "BATCH_ROWS", 20)
    rows = [f"fault{i}@example.dk,F{i}\n" for i in range(59)] + ["fault3@example.dk,F3\n"]
    csv = ("email,first_name\n" + "".join(rows)).encode()
    original_put, throttled = imports_service.RightsRepository.batch_put, []

    def throttles_once(self: Any, items: Any) -> Any:
        if not throttled and all(str(i["sk"]).startswith("ISSUE#") for i in items):  # a batch's issues
            throttled.append(1)
            raise RetryableError("throttled", code="throttled")
        return original_put(self, items)

    monkeypatch.setattr(imports_service.RightsRepository, "batch_put", throttles_once)
    dynamodb = clients.dynamodb()
    with (
        lost_replies(dynamodb, "TransactWriteItems", times=3, when=lambda r: b"fault0@" not in r) as lost_contacts,
        lost_replies(dynamodb, "UpdateItem", times=1, when=lambda r: b"advanced_by" in r and b"next_line" in r) as lost,
    ):
        import_id = run_import(aws, call, invoke, csv)

    # Then it ran straight through: every row imported once, its own rows never reported as duplicates
    assert (lost_contacts.lost, lost.lost, len(throttled)) == (3, 1, 1)
    view = body(call("GET", f"/v1/admin/imports/{import_id}"))
    assert view["status"] == "completed"
    assert (view["counts"]["rows"], view["counts"]["imported"], view["counts"]["duplicates"]) == (60, 59, 1)
    assert issues_of(call, import_id) == {61: ("skipped", "duplicate")}
    for i in range(59):
        assert len(import_events(svc, tenant, f"fault{i}@example.dk")) == 1


def test_a_worker_that_died_before_queueing_the_csvs_deletion_queues_it_on_the_redelivery(
    aws: Any, svc: Services, call: Callable[..., dict[str, Any]], invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an import whose worker recorded the end and died before it queued its CSV's deletion
    monkeypatch.setattr(imports_service.evidence_queue, "request_import_file_deletion", lambda *a, **k: None)
    import_id = run_import(aws, call, invoke, b"email\nanna@example.dk\n")
    monkeypatch.undo()
    drain(invoke, "evidence_check")
    assert [k for k, _, _ in bucket_versions(aws.evidence_bucket) if k.startswith("imports/")] != []

    # When its message comes back, the import is finished: the redelivery queues the deletion, and evidence_check
    # deletes the CSV (the end is recorded, so the deletion is due)
    assert imports_service.process(svc, "acme", import_id, remaining_ms=lambda: 60_000).value == "completed"
    drain(invoke, "evidence_check")
    assert [k for k, _, _ in bucket_versions(aws.evidence_bucket) if k.startswith("imports/")] == []
