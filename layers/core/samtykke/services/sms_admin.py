"""Admin: SMS provider secrets, tenant keywords, inbound numbers, and a number's SMS suppressions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from samtykke.adapters.repository import AlreadyExists
from samtykke.adapters.secrets import SecretBox
from samtykke.adapters.sms_repository import SmsRepository
from samtykke.domain.addresses import normalise_phone
from samtykke.domain.consent import AddressKind, Channel
from samtykke.domain.defaults import SUPPORTED_LOCALES
from samtykke.domain.errors import Conflict, InvalidInput, NotFound
from samtykke.domain.sms_keywords import (
    DEFAULT_KEYWORDS,
    Keyword,
    KeywordAction,
    conflicting_keyword,
    keyword_forms,
    keyword_id,
)
from samtykke.domain.suppression import ALL_PURPOSES
from samtykke.models.sms import (
    DefaultSmsKeyword,
    SmsAddressStatus,
    SmsKeyword,
    SmsKeywordCreate,
    SmsKeywordList,
    SmsNumber,
    SmsNumberCreate,
    SmsProvider,
    SmsProviderStatus,
    SmsSettings,
    SmsSuppression,
    TenantKeywordAction,
    TwilioSettingsUpdate,
    VonageSettingsUpdate,
)
from samtykke.services.context import Services
from samtykke.services.sms_config import SmsConfig, inbound_number, keyword_sk, provider_sk, secret_name

CONFIGURABLE_PROVIDERS = (SmsProvider.TWILIO, SmsProvider.VONAGE)


class KeywordConflict(Conflict):
    code = "keyword_conflict"


class SmsKeywordNotFound(NotFound):
    code = "sms_keyword_not_found"


class SmsProviderNotConfigured(NotFound):
    code = "sms_provider_not_configured"


def sms_repository(svc: Services) -> SmsRepository:
    return SmsRepository(svc.settings.table_name)


def _config(svc: Services, tenant_id: str) -> SmsConfig:
    svc.catalogs.get(tenant_id)  # 404 for a tenant that does not exist
    return SmsConfig.from_items(tenant_id, sms_repository(svc).load(tenant_id))


def _status(provider: SmsProvider, item: dict[str, Any] | None) -> SmsProviderStatus:
    if item is None:
        return SmsProviderStatus(provider=provider, configured=False)
    return SmsProviderStatus(
        provider=provider,
        configured=True,
        signature_method=item.get("signature_method"),
        updated_at=item.get("updated_at"),
        updated_by=item.get("updated_by"),
    )


def sms_settings(svc: Services, tenant_id: str) -> SmsSettings:
    config = _config(svc, tenant_id)
    return SmsSettings(
        providers=[_status(p, config.providers.get(p.value)) for p in CONFIGURABLE_PROVIDERS],
        numbers=sorted(n.number for n in config.numbers),
    )


def _store_secret(
    svc: Services, tenant_id: str, provider: SmsProvider, secret: str, principal_id: str, extra: dict[str, Any]
) -> SmsProviderStatus:
    catalog = svc.catalogs.get(tenant_id)
    box = SecretBox(svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob))
    item = {
        "provider": provider.value,
        "sealed_secret": box.seal(secret_name(provider.value), secret),
        "updated_at": svc.clock().isoformat(),
        "updated_by": principal_id,
        **extra,
    }
    sms_repository(svc).put(tenant_id, provider_sk(provider.value), item)
    return _status(provider, item)


def set_twilio(svc: Services, tenant_id: str, update: TwilioSettingsUpdate, principal_id: str) -> SmsProviderStatus:
    return _store_secret(svc, tenant_id, SmsProvider.TWILIO, update.auth_token, principal_id, {})


def set_vonage(svc: Services, tenant_id: str, update: VonageSettingsUpdate, principal_id: str) -> SmsProviderStatus:
    extra = {"signature_method": update.signature_method.value}
    return _store_secret(svc, tenant_id, SmsProvider.VONAGE, update.signature_secret, principal_id, extra)


def remove_provider(svc: Services, tenant_id: str, provider: SmsProvider) -> None:
    svc.catalogs.get(tenant_id)
    if not sms_repository(svc).delete(tenant_id, provider_sk(provider.value)):
        raise SmsProviderNotConfigured(f"No {provider.value} secret is set")


# --- keywords -------------------------------------------------------------------------------------------


def list_keywords(svc: Services, tenant_id: str) -> SmsKeywordList:
    config = _config(svc, tenant_id)
    return SmsKeywordList(
        keywords=list(config.keywords),
        defaults=[
            DefaultSmsKeyword(keyword=k.text, action=TenantKeywordAction(k.action.value), locale=k.locale)
            for k in DEFAULT_KEYWORDS
        ],
    )


def create_keyword(svc: Services, tenant_id: str, new: SmsKeywordCreate, principal_id: str) -> SmsKeyword:
    catalog = svc.catalogs.get(tenant_id)
    if new.locale not in SUPPORTED_LOCALES:
        raise InvalidInput(f"Locale must be one of {', '.join(SUPPORTED_LOCALES)}", code="unsupported_locale")
    if not keyword_forms(new.keyword):
        raise InvalidInput("A keyword needs at least one letter or digit", code="invalid_keyword")
    if new.purpose is not None:
        if new.action is TenantKeywordAction.HELP:
            raise InvalidInput("A help keyword cannot be scoped to a purpose", code="scope_not_allowed")
        purpose = catalog.purposes.get(new.purpose)
        if purpose is None:
            raise InvalidInput(f"Unknown purpose '{new.purpose}'", code="unknown_purpose")
        if Channel.SMS not in purpose.channels:
            raise InvalidInput(f"Purpose '{new.purpose}' has no SMS channel", code="no_sms_channel")
    candidate = Keyword(new.keyword, KeywordAction(new.action.value), new.locale, new.purpose)
    existing = SmsConfig.from_items(tenant_id, sms_repository(svc).load(tenant_id)).tenant_keywords()
    taken = conflicting_keyword(candidate, existing)
    if taken is not None:
        raise KeywordConflict(f"'{new.keyword}' reads the same as the keyword '{taken.text}' ({taken.action.value})")
    keyword = SmsKeyword(
        keyword_id=keyword_id(new.keyword),
        keyword=new.keyword,
        action=new.action,
        locale=new.locale,
        purpose=new.purpose,
        created_at=svc.clock(),
    )
    try:
        sms_repository(svc).put_new(
            tenant_id,
            keyword_sk(keyword.keyword_id),
            {**keyword.model_dump(mode="json", exclude_none=True), "created_by": principal_id},
        )
    except AlreadyExists as exc:  # a concurrent create of a keyword that folds alike
        raise KeywordConflict(f"'{new.keyword}' exists already") from exc
    return keyword


def delete_keyword(svc: Services, tenant_id: str, keyword_id_: str) -> None:
    svc.catalogs.get(tenant_id)
    if not keyword_id_.startswith("kw_") or not sms_repository(svc).delete(tenant_id, keyword_sk(keyword_id_)):
        raise SmsKeywordNotFound("No such keyword")


# --- inbound numbers ------------------------------------------------------------------------------------


def list_numbers(svc: Services, tenant_id: str) -> list[SmsNumber]:
    return sorted(_config(svc, tenant_id).numbers, key=lambda n: n.number)


def register_number(svc: Services, tenant_id: str, new: SmsNumberCreate) -> SmsNumber:
    catalog = svc.catalogs.get(tenant_id)
    number = inbound_number(new.number, catalog.tenant.country)
    now = svc.clock()
    sms_repository(svc).claim_number(tenant_id, number, now.isoformat())
    return SmsNumber(number=number, created_at=now)


def release_number(svc: Services, tenant_id: str, raw_number: str) -> None:
    catalog = svc.catalogs.get(tenant_id)
    sms_repository(svc).release_number(tenant_id, inbound_number(raw_number, catalog.tenant.country))


# --- a number's state -----------------------------------------------------------------------------------


def address_status(svc: Services, tenant_id: str, raw_phone: str) -> SmsAddressStatus:
    """The SMS suppressions on a phone number, whether or not it belongs to a contact."""
    catalog = svc.catalogs.get(tenant_id)
    phone = normalise_phone(raw_phone, catalog.tenant.country)
    keys = svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob)
    address = svc.repo.get_address(tenant_id, AddressKind.PHONE.value, keys.blind_index(AddressKind.PHONE.value, phone))
    suppressions = []
    for key, record in sorted(((address or {}).get("suppressions") or {}).items()):
        channel, _, purpose = key.partition("#")
        if channel != Channel.SMS.value:
            continue
        suppressions.append(
            SmsSuppression(
                purpose=None if purpose == ALL_PURPOSES else purpose,
                reason=str(record.get("reason")),
                at=_parse_time(record.get("at")),
                keyword=record.get("keyword"),
                provider=record.get("provider"),
            )
        )
    return SmsAddressStatus(
        phone=phone,
        contact_id=(address or {}).get("contact_id"),
        suppressed_for_all=any(s.purpose is None for s in suppressions),
        suppressions=suppressions,
    )


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
