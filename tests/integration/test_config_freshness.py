"""Configuration changes reach every container at once: no cached snapshot outlives a write."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from samtykke.adapters.crypto import KmsKeyring
from samtykke.adapters.mailer import SesMailer
from samtykke.adapters.repository import ConsentRepository
from samtykke.models.catalog import ConsentTextCreate, PurposeUpdate, SourceCreate
from samtykke.models.tenant import TenantSettingsUpdate
from samtykke.services import catalog_admin
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.test_consent_capture import consent_log

pytestmark = pytest.mark.integration

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


def other_container(svc: Services) -> Services:
    """Services as a second Lambda container builds them: its own caches."""
    settings = svc.settings
    return Services(
        settings=settings,
        repo=ConsentRepository(settings.table_name),
        keyring=KmsKeyring(settings.kms_key_id),
        mailer=SesMailer(settings.ses_configuration_set),
    )


def capture(invoke: Invoke, api_event: Callable[..., dict[str, Any]], body: dict[str, Any], **kw: Any) -> Any:
    return invoke("consent_capture", api_event("consent_capture_json", json_body=body, **kw))


def shown_text_versions(
    invoke: Invoke, api_event: Callable[..., dict[str, Any]], tenant: TenantFixture, email: str
) -> list[int]:
    log = consent_log(invoke, api_event, tenant, email)
    return [event["text"]["version"] for event in log["events"] if event.get("text")]


def test_a_new_text_source_and_origin_work_on_the_public_form_at_once(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    # Given the capture container has the configuration cached
    base = {"email": "fresh@example.dk", "purpose": ["sales-and-service"], "locale": "da"}
    assert capture(invoke, api_event, base)["statusCode"] == 201
    admin = other_container(svc)
    current = admin.catalogs.get(tenant.tenant_id).text("sales-and-service", "da")
    assert current is not None

    # When another container adds a text version, a source and an origin
    catalog_admin.add_text_version(
        admin, tenant.tenant_id, ConsentTextCreate(purpose_id="sales-and-service", locale="da", text="Ny tekst")
    )
    catalog_admin.create_source(admin, tenant.tenant_id, SourceCreate(source_id="kiosk", label="Kiosk", public=True))
    catalog_admin.update_settings(
        admin,
        tenant.tenant_id,
        TenantSettingsUpdate(allowed_origins=["https://www.acme.example", "https://shop.acme.example"]),
    )

    # Then the next post through the capture container uses all three, with no wait
    body = base | {"text_version": current.version + 1, "source": "kiosk"}
    response = capture(invoke, api_event, body, headers={"origin": "https://shop.acme.example"})
    assert response["statusCode"] == 201, response["body"]
    assert shown_text_versions(invoke, api_event, tenant, "fresh@example.dk")[-1] == current.version + 1


def test_a_deactivated_purpose_is_refused_at_once_and_the_default_text_is_the_newest(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    body = {"email": "gone@example.dk", "purpose": ["sales-and-service"], "locale": "da"}
    assert capture(invoke, api_event, body)["statusCode"] == 201
    admin = other_container(svc)

    added = catalog_admin.add_text_version(
        admin, tenant.tenant_id, ConsentTextCreate(purpose_id="sales-and-service", locale="da", text="Version to")
    )
    assert capture(invoke, api_event, body | {"email": "newest@example.dk"})["statusCode"] == 201
    assert shown_text_versions(invoke, api_event, tenant, "newest@example.dk") == [added.version]

    catalog_admin.update_purpose(admin, tenant.tenant_id, "sales-and-service", PurposeUpdate(active=False))
    response = capture(invoke, api_event, body | {"email": "late@example.dk"})
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["error"]["code"] == "purpose_inactive"


def test_a_warm_container_checks_one_small_item_per_use(svc: Services, tenant: TenantFixture) -> None:
    from samtykke.adapters import aws as aws_clients
    from tests.bench.calls import counting

    svc.catalogs.get(tenant.tenant_id)
    with counting([aws_clients.dynamodb()]) as counter:
        svc.catalogs.get(tenant.tenant_id)
        svc.catalogs.get(tenant.tenant_id)
    assert counter.as_dict() == {"dynamodb:GetItem": 2}


def test_a_form_post_on_a_warm_container_reads_the_counter_once(
    svc: Services, tenant: TenantFixture, api_event: Callable[..., dict[str, Any]], invoke: Invoke
) -> None:
    from samtykke.adapters import aws as aws_clients
    from tests.bench.calls import counting

    body = {"email": "warm@example.dk", "purpose": ["sales-and-service"], "locale": "da"}
    assert capture(invoke, api_event, body)["statusCode"] == 201
    with counting([aws_clients.dynamodb()]) as counter:
        response = capture(invoke, api_event, body | {"email": "warm2@example.dk"})  # with an Origin: CORS too
    assert response["headers"]["Access-Control-Allow-Origin"] == "https://www.acme.example"
    assert counter.as_dict() == {"dynamodb:GetItem": 1, "dynamodb:TransactWriteItems": 1}
