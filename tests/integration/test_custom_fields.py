"""A tenant's custom fields: declared in settings, posted by forms, sealed, masked, audited and confirmed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from samtykke.domain.access import Role
from samtykke.domain.consent import ActorType
from samtykke.models.consent import Actor, ContactProfile, Evidence
from samtykke.services import audit
from samtykke.services.context import Services
from samtykke.services.ledger import ContactTarget, Ledger, LoadedContact, StateChange
from tests.integration.conftest import ACME_THANKS, TenantFixture, body_of
from tests.integration.rights_support import admin_call, body, raw_dump, scan_table
from tests.integration.test_consent_capture import confirmation_link
from tests.integration.test_imports import run_import

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]

FIELDS = [
    {"name": "loyalty_no", "type": "integer", "sensitive": False},
    {"name": "member_cpr", "type": "national_id", "sensitive": True},
    {"name": "health_note", "type": "string", "sensitive": True},
    {"name": "joined", "type": "date", "sensitive": False},
    {"name": "wants_catalogue", "type": "boolean", "sensitive": False},
]
CPR = "010190-1234"
NOTE = "Laktoseintolerant kunde"


@pytest.fixture
def call(api_event: Callable[..., dict[str, Any]], invoke: Invoke, tenant: TenantFixture) -> Callable[..., Any]:
    def run(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return admin_call(api_event, invoke, tenant, method, path, **kwargs)

    return run


@pytest.fixture
def declared(call: Callable[..., dict[str, Any]]) -> None:
    response = call("PATCH", "/v1/admin/settings", json_body={"custom_fields": FIELDS})
    assert response["statusCode"] == 200, response["body"]
    assert body_of(response)["custom_fields"] == FIELDS


def _post(api_event: Callable[..., dict[str, Any]], invoke: Invoke, **submission: Any) -> dict[str, Any]:
    body = {"email": "anna@example.dk", "purpose": ["e-marketing"], **submission}
    return invoke("consent_capture", api_event("consent_capture_json", json_body=body))


def _contact(
    invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture, contact_id: str, grants: str
) -> Any:
    authorizer = {**tenant.authorizer(Role.EDITOR), "grants": grants}
    event = api_event("admin_request", path=f"/v1/admin/contacts/{contact_id}", authorizer=authorizer)
    response = invoke("admin_api", event)
    assert response["statusCode"] == 200, response["body"]
    return body_of(response)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ([{"name": "Loyalty", "type": "string"}], "validation_failed"),  # not a safe identifier
        ([{"name": "x; drop", "type": "string"}], "validation_failed"),
        ([{"name": "cpr", "type": "shoe_size"}], "validation_failed"),  # not a known type
        ([{"name": "email", "type": "string"}], "reserved_custom_field_name"),
        ([{"name": "shop", "type": "string"}, {"name": "shop", "type": "integer"}], "duplicate_custom_field"),
    ],
)
def test_a_bad_declaration_is_refused_with_a_code(
    call: Callable[..., dict[str, Any]], fields: list[dict[str, Any]], code: str
) -> None:
    response = call("PATCH", "/v1/admin/settings", json_body={"custom_fields": fields})

    assert (response["statusCode"], body_of(response)["error"]["code"]) == (422, code)
    assert body_of(call("GET", "/v1/admin/settings"))["custom_fields"] == []


def test_sensitive_fields_name_only_built_in_profile_fields(call: Callable[..., dict[str, Any]]) -> None:
    response = call("PATCH", "/v1/admin/settings", json_body={"sensitive_fields": ["loyalty_no"]})
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (422, "unknown_sensitive_field")
    assert call("PATCH", "/v1/admin/settings", json_body={"sensitive_fields": ["birth_date"]})["statusCode"] == 200


def test_a_posted_custom_field_is_sealed_masked_and_its_reveal_audited(
    aws: Any,
    svc: Services,
    tenant: TenantFixture,
    declared: None,
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
) -> None:
    custom = {"loyalty_no": "4711", "member_cpr": "0101901234", "health_note": NOTE, "wants_catalogue": True}
    response = _post(api_event, invoke, custom_fields=custom)
    assert response["statusCode"] == 201, response["body"]
    contact_id = body_of(response)["contact_id"]

    # Nothing of it is stored in plaintext
    dump = b"".join(raw_dump(item) for item in scan_table(aws.table_name))
    for secret in (CPR, "0101901234", NOTE):
        assert secret.encode() not in dump

    # Staff without sensitive:read see the plain fields, and the sensitive ones redacted
    masked = _contact(invoke, api_event, tenant, contact_id, "")
    assert masked["custom_fields"] == {
        "loyalty_no": 4711,
        "member_cpr": "[redacted]",
        "health_note": "[redacted]",
        "wants_catalogue": True,
    }
    entries, _ = audit.query(svc, tenant.tenant_id, svc.clock().strftime("%Y-%m"))
    assert [e["action"] for e in entries[:1]] == ["contact.read"]

    # With it they see the values (the CPR in its standard form), and the read names the contact
    shown = _contact(invoke, api_event, tenant, contact_id, "sensitive:read")
    assert (shown["custom_fields"]["member_cpr"], shown["custom_fields"]["health_note"]) == (CPR, NOTE)
    entries, _ = audit.query(svc, tenant.tenant_id, svc.clock().strftime("%Y-%m"))
    assert [(e["action"], e["target"]["id"], e["contacts"]) for e in entries[:1]] == [
        ("contact.sensitive_read", contact_id, [contact_id])
    ]
    assert CPR not in json.dumps(entries, default=str)


def test_a_plain_html_form_posts_custom_fields_by_bracketed_name(
    tenant: TenantFixture, declared: None, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    form = [
        ("email", "bo@example.dk"),
        ("purpose", "sales-and-service"),
        ("custom_fields[loyalty_no]", "42"),
        ("custom_fields[joined]", "2024-05-01"),
        ("custom_fields[wants_catalogue]", "on"),
        ("redirect", ACME_THANKS),
    ]
    event = api_event("consent_capture_form", body=urlencode(form), base64_encoded=False)

    response = invoke("consent_capture", event)

    assert response["statusCode"] == 303, response["body"]
    lookup = api_event(
        "admin_request", path="/v1/admin/contacts", query={"email": "bo@example.dk"}, authorizer=tenant.authorizer()
    )
    contact_id = body_of(invoke("admin_api", lookup))["contact_id"]
    shown = _contact(invoke, api_event, tenant, contact_id, "")
    assert shown["custom_fields"] == {"loyalty_no": 42, "joined": "2024-05-01", "wants_catalogue": True}


BAD_VALUES = [
    ("loyalty_no", "12a", "invalid_integer"),
    ("loyalty_no", True, "invalid_integer"),
    ("member_cpr", "hello world <b>", "invalid_national_id"),
    ("member_cpr", "3113901234", "invalid_national_id"),  # no 31 November
    ("joined", "01-05-2024", "invalid_date"),
    ("wants_catalogue", "maybe", "invalid_boolean"),
    ("health_note", "<script>x</script>", "invalid_string"),
]


@pytest.mark.parametrize(("field", "value", "code"), BAD_VALUES, ids=[f"{c[0]}={c[1]}" for c in BAD_VALUES])
def test_a_bad_value_is_a_422_naming_the_field_and_writes_nothing(
    aws: Any,
    tenant: TenantFixture,
    declared: None,
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
    field: str,
    value: Any,
    code: str,
) -> None:
    before = list(scan_table(aws.table_name))

    response = _post(api_event, invoke, custom_fields={field: value})

    assert response["statusCode"] == 422
    error = body_of(response)["error"]
    assert error["code"] == "invalid_custom_field"
    assert [(d["field"], d["code"]) for d in error["details"]] == [(field, code)]
    assert list(scan_table(aws.table_name)) == before


def test_an_undeclared_custom_field_is_refused(
    tenant: TenantFixture, declared: None, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    response = _post(api_event, invoke, custom_fields={"loyalty_no": 1, "shoe_size": 44})

    assert response["statusCode"] == 422
    error = body_of(response)["error"]
    assert (error["code"], error["details"]) == (
        "unknown_custom_field",
        [{"field": "shoe_size", "code": "unknown_custom_field"}],
    )

    # A form field outside `custom_fields` stays a schema error, as before
    assert body_of(_post(api_event, invoke, shoe_size=44))["error"]["code"] == "validation_failed"


def test_a_post_about_an_existing_contact_changes_custom_fields_only_once_the_owner_confirms(
    tenant: TenantFixture, declared: None, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    first = _post(api_event, invoke, custom_fields={"loyalty_no": 1, "member_cpr": CPR})
    contact_id = body_of(first)["contact_id"]

    # Someone else posts new values for Anna's address
    second = _post(api_event, invoke, custom_fields={"loyalty_no": 2, "health_note": NOTE})
    assert second["statusCode"] == 201, second["body"]

    # Nothing changed yet
    stored = _contact(invoke, api_event, tenant, contact_id, "sensitive:read")["custom_fields"]
    assert stored == {"loyalty_no": 1, "member_cpr": CPR}

    # Anna confirms from her mailbox: the new values apply, the others stay
    token = confirmation_link("anna@example.dk")
    confirm = api_event("confirm_post", path=f"/v1/public/confirm/{token}", path_parameters={"token": token})
    assert invoke("consent_capture", confirm)["statusCode"] == 200
    stored = _contact(invoke, api_event, tenant, contact_id, "sensitive:read")["custom_fields"]
    assert stored == {"loyalty_no": 2, "member_cpr": CPR, "health_note": NOTE}


def _find(invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture, email: str) -> str:
    lookup = api_event(
        "admin_request", path="/v1/admin/contacts", query={"email": email}, authorizer=tenant.authorizer()
    )
    return str(body_of(invoke("admin_api", lookup))["contact_id"])


def test_an_import_reads_declared_custom_columns_checks_each_and_fills_only_what_is_missing(
    aws: Any,
    tenant: TenantFixture,
    declared: None,
    call: Callable[..., dict[str, Any]],
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
) -> None:
    # Anna is already known, with a loyalty number of her own
    assert _post(api_event, invoke, custom_fields={"loyalty_no": 1})["statusCode"] == 201
    csv = (
        "email;first_name;Loyalty No;member_cpr;health_note;shoe_size\n"
        f"anna@example.dk;Anna;99;{CPR};{NOTE};38\n"
        "bo@example.dk;Bo;12;;;44\n"
        "cy@example.dk;Cy;twelve;3113901234;;40\n"
    ).encode()

    import_id = run_import(aws, call, invoke, csv)

    view = body(call("GET", f"/v1/admin/imports/{import_id}"))
    assert view["ignored_columns"] == ["shoe_size"]  # an undeclared column is still ignored and reported
    issues = body(call("GET", f"/v1/admin/imports/{import_id}/issues"))["issues"]
    assert [(i["line"], i["code"], i["detail"]) for i in issues] == [
        (4, "invalid_custom_field", "loyalty_no: invalid_integer, member_cpr: invalid_national_id")
    ]
    # Anna keeps her own loyalty number; what she lacked is filled in
    anna = _contact(invoke, api_event, tenant, _find(invoke, api_event, tenant, "anna@example.dk"), "sensitive:read")
    assert anna["custom_fields"] == {"loyalty_no": 1, "member_cpr": CPR, "health_note": NOTE}
    bo = _contact(invoke, api_event, tenant, _find(invoke, api_event, tenant, "bo@example.dk"), "")
    assert bo["custom_fields"] == {"loyalty_no": 12}
    dump = b"".join(raw_dump(item) for item in scan_table(aws.table_name))
    assert CPR.encode() not in dump
    assert NOTE.encode() not in dump


def test_staff_set_custom_fields_at_once_audited_by_name_without_values(
    aws: Any,
    svc: Services,
    tenant: TenantFixture,
    declared: None,
    call: Callable[..., dict[str, Any]],
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
) -> None:
    contact_id = body_of(_post(api_event, invoke, custom_fields={"loyalty_no": 1, "joined": "2020-01-01"}))[
        "contact_id"
    ]
    path = f"/v1/admin/contacts/{contact_id}/custom-fields"

    response = call("PATCH", path, json_body={"custom_fields": {"loyalty_no": "2", "member_cpr": CPR}})

    assert response["statusCode"] == 200, response["body"]
    assert body_of(response)["custom_fields"] == {"loyalty_no": 2, "joined": "2020-01-01", "member_cpr": CPR}
    as_editor = _contact(invoke, api_event, tenant, contact_id, "")["custom_fields"]
    assert as_editor == {"loyalty_no": 2, "joined": "2020-01-01", "member_cpr": "[redacted]"}
    entries, _ = audit.query(svc, tenant.tenant_id, svc.clock().strftime("%Y-%m"), action="contact.fields_changed")
    [entry] = entries
    assert (entry["target"]["id"], entry["contacts"]) == (contact_id, [contact_id])
    assert sorted(c["field"] for c in entry["changes"]) == ["custom_fields.loyalty_no", "custom_fields.member_cpr"]
    assert CPR not in json.dumps(entry, default=str)
    dump = b"".join(raw_dump(item) for item in scan_table(aws.table_name))
    assert CPR.encode() not in dump

    # A bad value, an undeclared field or an unknown contact changes nothing
    bad = call("PATCH", path, json_body={"custom_fields": {"loyalty_no": "many"}})
    assert (bad["statusCode"], body_of(bad)["error"]["code"]) == (422, "invalid_custom_field")
    undeclared = call("PATCH", path, json_body={"custom_fields": {"shoe_size": 44}})
    assert (undeclared["statusCode"], body_of(undeclared)["error"]["code"]) == (422, "unknown_custom_field")
    missing = call(
        "PATCH", "/v1/admin/contacts/con_0123456789abcdef/custom-fields", json_body={"custom_fields": {"loyalty_no": 3}}
    )
    assert missing["statusCode"] == 404
    assert _contact(invoke, api_event, tenant, contact_id, "sensitive:read")["custom_fields"]["loyalty_no"] == 2
    # An author may not set them
    refused = call("PATCH", path, json_body={"custom_fields": {"loyalty_no": 5}}, role=Role.AUTHOR)
    assert refused["statusCode"] == 403


def test_the_export_holds_custom_fields_redacted_without_the_grant_and_erasure_shreds_them(
    aws: Any,
    tenant: TenantFixture,
    declared: None,
    call: Callable[..., dict[str, Any]],
    api_event: Callable[..., dict[str, Any]],
    invoke: Invoke,
) -> None:
    custom = {"loyalty_no": 7, "member_cpr": CPR, "health_note": NOTE}
    contact_id = body_of(_post(api_event, invoke, custom_fields=custom))["contact_id"]

    as_admin = body(call("GET", f"/v1/admin/contacts/{contact_id}/export"))
    as_editor = body(call("GET", f"/v1/admin/contacts/{contact_id}/export", role=Role.EDITOR))
    page = call("GET", f"/v1/admin/contacts/{contact_id}/export", query={"format": "html"})

    assert as_admin["contact"]["profile"]["custom_fields"] == {"loyalty_no": 7, "member_cpr": CPR, "health_note": NOTE}
    assert as_editor["contact"]["profile"]["custom_fields"] == {
        "loyalty_no": 7,
        "member_cpr": "[redacted]",
        "health_note": "[redacted]",
    }
    assert f'data-field="custom_fields.member_cpr">{CPR}<' in page["body"]

    head = next(i for i in scan_table(aws.table_name) if contact_id in str(i["pk"]) and i["sk"]["S"] == "PROFILE")
    sealed_profile = head["profile"]["B"]
    assert call("POST", f"/v1/admin/contacts/{contact_id}/erase")["statusCode"] == 200
    for item in scan_table(aws.table_name):
        dumped = raw_dump(item)
        for needle in (CPR.encode(), NOTE.encode(), sealed_profile):
            assert needle not in dumped


def test_two_staff_edits_at_once_never_overwrite_each_other(
    svc: Services, tenant: TenantFixture, declared: None, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    contact_id = body_of(_post(api_event, invoke, custom_fields={"loyalty_no": 1}))["contact_id"]
    keys = svc.keyring.tenant_keys(tenant.tenant_id, svc.catalogs.get(tenant.tenant_id).root_key_blob)
    ledger = Ledger(svc, keys)
    actor, evidence = Actor(type=ActorType.STAFF, id="usr_1"), Evidence(at=svc.clock())
    stale = ledger.load(contact_id)  # the second editor read the contact before the first one wrote

    def edit(values: dict[str, Any], loaded: LoadedContact | None = None) -> None:
        target = ContactTarget(contact_id=contact_id, profile_only=True, loaded=loaded)

        def decide(contact: LoadedContact) -> list[StateChange]:
            target.profile_updates = ContactProfile(custom_fields=values)
            return []

        ledger.write(target, decide, actor, evidence)

    edit({"joined": "2021-01-01"})
    edit({"member_cpr": CPR}, loaded=stale)

    stored = _contact(invoke, api_event, tenant, contact_id, "sensitive:read")["custom_fields"]
    assert stored == {"loyalty_no": 1, "joined": "2021-01-01", "member_cpr": CPR}
