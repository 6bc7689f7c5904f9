"""The anchored consent log: signed checkpoints outside the table, and `samtykke verify` catching every rewrite.

Whoever can write the table can delete a withdrawal or recompute every hash. These tests do exactly that, to
the table and to an export, and watch the verifier name the first bad sequence number.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from samtykke.adapters import checkpoints as checkpoint_adapters
from samtykke.adapters.repository import contact_pk, event_sk, from_attributes, to_attributes
from samtykke.cli import main as samtykke_cli
from samtykke.domain.ledger import chain_hash
from samtykke.resources import DEFAULT_REGION
from samtykke.services.context import Services, utc_now
from samtykke.services.evidence_log.checkpoints import write_checkpoint
from tests.conftest import load_event
from tests.integration.conftest import TenantFixture, body_of
from tests.integration.evidence_support import ApiEvent, Invoke, confirm_tokens, export_of, open_confirm, post_consent
from tests.integration.rights_support import admin_call

pytestmark = pytest.mark.integration


def _contact(invoke: Invoke, api_event: ApiEvent, address: str) -> str:
    """A contact with three events: the e-marketing grant, its confirmation, and sales-and-service."""
    response = post_consent(invoke, api_event, {"email": address, "purpose": ["e-marketing"], "locale": "da"})
    assert open_confirm(invoke, api_event, confirm_tokens(address)[-1])["statusCode"] == 200
    again = post_consent(invoke, api_event, {"email": address, "purpose": ["sales-and-service"], "locale": "da"})
    assert again["statusCode"] == 201
    contact_id: str = body_of(response)["contact_id"]
    return contact_id


def _public_key(invoke: Invoke, api_event: ApiEvent, tmp_path: Path) -> Path:
    event = api_event("openapi", path="/v1/public/evidence/public-key")
    response = invoke("evidence_public", event)
    assert response["statusCode"] == 200, response["body"]
    assert response["body"].startswith("-----BEGIN PUBLIC KEY-----")
    path = tmp_path / "checkpoint-key.pem"
    path.write_text(response["body"])
    return path


def _verify(tmp_path: Path, document: dict[str, Any], key: Path, capsys: Any) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "document.json"
    path.write_text(json.dumps(document))
    code = samtykke_cli(["verify", str(path), "--public-key", str(key)])
    return code, json.loads(capsys.readouterr().out)


def _table() -> Any:
    return boto3.client("dynamodb", region_name=DEFAULT_REGION)


def _events(aws: Any, tenant_id: str, contact_id: str) -> list[dict[str, Any]]:
    items = _table().query(
        TableName=aws.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues=to_attributes({":pk": contact_pk(tenant_id, contact_id), ":e": "EVENT#"}),
    )["Items"]
    return [from_attributes(i) for i in items]


def _set_head(aws: Any, tenant_id: str, contact_id: str, seq: int, last_hash: str) -> None:
    _table().update_item(
        TableName=aws.table_name,
        Key=to_attributes({"pk": contact_pk(tenant_id, contact_id), "sk": "PROFILE"}),
        UpdateExpression="SET seq = :s, last_hash = :h",
        ExpressionAttributeValues=to_attributes({":s": seq, ":h": last_hash}),
    )


def test_an_export_verifies_offline_and_tampering_with_it_or_the_table_is_caught(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, tmp_path: Path, capsys: Any
) -> None:
    # Given a contact with three events, and the public key fetched once from its public URL
    contact_id = _contact(invoke, api_event, "anna@example.dk")
    key = _public_key(invoke, api_event, tmp_path)

    # When the DSAR export is taken, it signs a checkpoint over the contact's head and carries its anchor
    document = export_of(invoke, api_event, tenant, contact_id)
    [anchor] = document["anchors"]
    assert anchor["leaf"] == {
        "tenant_id": "acme",
        "contact_id": contact_id,
        "seq": 3,
        "head": document["events"][-1]["hash"],
    }
    assert document["verification"]["ok"] is True

    # Then `samtykke verify` accepts it offline
    code, out = _verify(tmp_path, document, key, capsys)
    assert (code, out["ok"]) == (0, True)

    # And an export altered after the fact fails, naming the event
    altered = json.loads(json.dumps(document))
    altered["events"][1]["status"] = "withdrawn"
    code, out = _verify(tmp_path, altered, key, capsys)
    assert code == 1
    assert out["results"][0]["first_bad_seq"] == 2

    # When someone deletes the last event in the table and rewinds the head to hide it
    events = sorted(_events(aws, "acme", contact_id), key=lambda e: e["seq"])
    _table().delete_item(
        TableName=aws.table_name, Key=to_attributes({"pk": contact_pk("acme", contact_id), "sk": event_sk(3)})
    )
    _set_head(aws, "acme", contact_id, 2, events[1]["hash"])

    # Then the chain alone still looks intact, but the next export fails verification at seq 3
    tampered = export_of(invoke, api_event, tenant, contact_id)
    assert tampered["chain_intact"] is True
    assert tampered["verification"]["ok"] is False
    code, out = _verify(tmp_path, tampered, key, capsys)
    assert code == 1
    assert out["results"][0]["first_bad_seq"] == 3
    assert "anchored_event_missing" in {p["code"] for p in out["results"][0]["problems"]}


def test_a_back_dated_and_recomputed_chain_is_caught(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, tmp_path: Path, capsys: Any
) -> None:
    # Given a contact whose three events were anchored by an export
    contact_id = _contact(invoke, api_event, "bo@example.dk")
    key = _public_key(invoke, api_event, tmp_path)
    export_of(invoke, api_event, tenant, contact_id)

    # When someone back-dates the first event and recomputes every hash and the head, so the chain verifies
    prev = "0" * 64
    for event in sorted(_events(aws, "acme", contact_id), key=lambda e: e["seq"]):
        record = {k: v for k, v in event.items() if k not in ("pk", "sk")}
        record["prev_hash"] = prev
        if record["seq"] == 1:
            record["at"] = "2025-01-01T09:00:00+00:00"
        record["hash"] = prev = chain_hash(prev, record)
        _table().put_item(TableName=aws.table_name, Item=to_attributes({**event, **record}))
    _set_head(aws, "acme", contact_id, 3, prev)

    # Then the export's own chain check passes, and the anchored check fails from the first event
    document = export_of(invoke, api_event, tenant, contact_id)
    assert document["chain_intact"] is True
    code, out = _verify(tmp_path, document, key, capsys)
    assert code == 1
    assert out["results"][0]["first_bad_seq"] == 1
    assert [p["code"] for p in out["results"][0]["problems"]] == ["rewritten"]


def test_a_deleted_contact_is_caught_by_the_audit_against_the_archived_checkpoint(
    aws: Any, svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke
) -> None:
    # Given two contacts anchored by the scheduled checkpoint
    kept = _contact(invoke, api_event, "kept@example.dk")
    gone = _contact(invoke, api_event, "gone@example.dk")
    result = write_checkpoint(svc, lag=timedelta(0))
    assert result is not None
    assert result.tree_size == 2

    # When one contact's whole partition is deleted, anchors included
    pk = contact_pk("acme", gone)
    for item in _table().query(
        TableName=aws.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_attributes({":pk": pk}),
    )["Items"]:
        _table().delete_item(TableName=aws.table_name, Key={"pk": item["pk"], "sk": item["sk"]})

    # Then the audit names it, from the checkpoint archived outside the table, and finds nothing wrong with the other
    response = admin_call(api_event, invoke, tenant, "GET", "/v1/admin/evidence/audit")
    report = body_of(response)
    assert report["contacts_checked"] == 2
    assert [(p["contact_id"], p["code"]) for p in report["problems"]] == [(gone, "contact_missing")]
    assert kept not in {p["contact_id"] for p in report["problems"]}


def test_the_scheduled_checkpoint_signs_once_for_many_captures_and_is_compliance_locked(
    aws: Any, svc: Services, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    signs: list[bytes] = []
    real_sign = checkpoint_adapters.CheckpointSigner.sign

    def counting_sign(self: checkpoint_adapters.CheckpointSigner, message: bytes) -> str:
        signs.append(message)
        return real_sign(self, message)

    monkeypatch.setattr(checkpoint_adapters.CheckpointSigner, "sign", counting_sign)
    # Given twelve captures by different people
    for i in range(12):
        assert (
            post_consent(invoke, api_event, {"email": f"p{i}@example.dk", "purpose": ["sales-and-service"]})[
                "statusCode"
            ]
            == 201
        )

    # When the scheduled function runs (past the index lag), and runs again with nothing new
    monkeypatch.setattr(svc, "clock", lambda: utc_now() + timedelta(minutes=2))
    summary = invoke("checkpoint_writer", load_event("eventbridge/checkpoint_sign.json"))
    again = write_checkpoint(svc)

    # Then one checkpoint covers all twelve heads with one KMS Sign, and the quiet run signs nothing
    assert summary["tree_size"] == 12
    assert again is None
    assert len(signs) == 1

    # And the archived checkpoint is locked in compliance mode: not even a version delete gets through
    s3 = boto3.client("s3", region_name=DEFAULT_REGION)
    key = f"checkpoints/{summary['checkpoint_id']}.json"
    head = s3.head_object(Bucket=aws.evidence_bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError):
        s3.delete_object(
            Bucket=aws.evidence_bucket, Key=key, VersionId=head["VersionId"], BypassGovernanceRetention=True
        )


def _receipts_token(to: str) -> str:
    import email
    import email.policy
    import re

    from samtykke.local.outbox import read_outbox

    message = email.message_from_string(read_outbox(to=to)[-1]["raw"], policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"/v1/public/receipts/([A-Za-z0-9_\-.]+)", text)
    assert match, text
    return match.group(1)


def test_receipts_download_from_the_email_link_and_verify_once_anchored(
    aws: Any, tenant: TenantFixture, api_event: ApiEvent, invoke: Invoke, tmp_path: Path, capsys: Any
) -> None:
    # Given a confirmed sign-up, whose confirmation email linked to the receipts
    contact_id = _contact(invoke, api_event, "rita@example.dk")
    token = _receipts_token("rita@example.dk")
    key = _public_key(invoke, api_event, tmp_path)

    def download() -> dict[str, Any]:
        event = api_event("openapi", path=f"/v1/public/receipts/{token}", path_parameters={"token": token})
        response = invoke("evidence_public", event)
        assert response["statusCode"] == 200, response["body"]
        assert response["headers"]["Content-Disposition"].startswith("attachment;")
        document: dict[str, Any] = body_of(response)
        return document

    # When the person downloads them before any checkpoint: one per grant and confirmation, no proof yet
    before = download()
    assert before["contact_id"] == contact_id
    assert [(r["event_type"], r["purpose"]["id"]) for r in before["receipts"]] == [
        ("grant", "e-marketing"),
        ("confirm", "e-marketing"),
        ("grant", "sales-and-service"),
    ]
    first = before["receipts"][0]
    assert first["controller"]["id"] == "acme"
    assert first["subject"] == {"id": contact_id, "id_type": "pseudonymous contact id"}
    assert first["notice"]["text"].startswith("Ja tak")
    assert first["jurisdiction"] == "DK"
    assert "proof" not in first

    # Then, once an export has anchored the log, every receipt carries a proof that verifies offline
    export_of(invoke, api_event, tenant, contact_id)
    after = download()
    assert all("proof" in r for r in after["receipts"])
    code, out = _verify(tmp_path, after, key, capsys)
    assert (code, out["ok"], len(out["results"])) == (0, True, 3), out["results"][0]["problems"]

    # And a receipt whose purpose was swapped fails
    after["receipts"][0]["event"]["purpose"] = "sales-and-service"
    code, out = _verify(tmp_path, after, key, capsys)
    assert code == 1
    assert out["results"][0]["problems"][0]["code"] == "hash_mismatch"

    # And a forged link gets a coded 400
    forged = api_event("openapi", path="/v1/public/receipts/x.y", path_parameters={"token": "x.y"})
    response = invoke("evidence_public", forged)
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "invalid_token"
