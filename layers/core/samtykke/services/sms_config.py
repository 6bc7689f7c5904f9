"""A tenant's SMS configuration (provider secrets, keywords, inbound numbers) as one cached snapshot.

The items live in the tenant's configuration partition under `sk` prefix `SMS`; one Query loads them. A
container keeps a snapshot for `TTL_SECONDS`, like the tenant catalogue, so the webhooks make no extra read
per message. A webhook whose secret does not verify against a cached snapshot reloads once before refusing,
so a token that was just rotated works at once.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from samtykke.adapters.sms_repository import KEYWORD_PREFIX, NUMBER_PREFIX, PROVIDER_PREFIX, SmsRepository
from samtykke.domain.addresses import normalise_phone
from samtykke.domain.sms_keywords import Keyword, KeywordAction
from samtykke.models.sms import SmsKeyword, SmsNumber, TenantKeywordAction

TTL_SECONDS = 30.0
SHORT_CODE = re.compile(r"\d{3,8}")


def inbound_number(raw: str, default_country: str) -> str:
    """An inbound (business) number as stored and looked up: E.164, or the digits of a short code."""
    digits = raw.strip()
    if SHORT_CODE.fullmatch(digits):
        return digits
    return normalise_phone(raw, default_country)


def provider_sk(provider: str) -> str:
    return f"{PROVIDER_PREFIX}{provider}"


def keyword_sk(keyword_id: str) -> str:
    return f"{KEYWORD_PREFIX}{keyword_id}"


def secret_name(provider: str) -> str:
    """What a provider's sealed secret is bound to (with the tenant id)."""
    return f"sms-provider/{provider}"


@dataclass(frozen=True)
class SmsConfig:
    tenant_id: str
    providers: dict[str, dict[str, Any]]  # provider -> its stored item (sealed secret, method, …)
    keywords: tuple[SmsKeyword, ...]
    numbers: tuple[SmsNumber, ...]

    @classmethod
    def from_items(cls, tenant_id: str, items: list[dict[str, Any]]) -> SmsConfig:
        providers: dict[str, dict[str, Any]] = {}
        keywords: list[SmsKeyword] = []
        numbers: list[SmsNumber] = []
        for item in items:
            sk = str(item["sk"])
            if sk.startswith(PROVIDER_PREFIX):
                providers[item["provider"]] = item
            elif sk.startswith(KEYWORD_PREFIX):
                keywords.append(SmsKeyword.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")}))
            elif sk.startswith(NUMBER_PREFIX):
                numbers.append(SmsNumber(number=item["number"], created_at=datetime.fromisoformat(item["created_at"])))
        keywords.sort(key=lambda k: k.created_at)
        return cls(tenant_id, providers, tuple(keywords), tuple(numbers))

    def tenant_keywords(self) -> list[Keyword]:
        return [
            Keyword(k.keyword, _ACTIONS[k.action], k.locale, k.purpose)
            for k in self.keywords  # oldest first: a keyword keeps its meaning when newer ones arrive
        ]


_ACTIONS = {
    TenantKeywordAction.OPT_OUT: KeywordAction.OPT_OUT,
    TenantKeywordAction.OPT_IN: KeywordAction.OPT_IN,
    TenantKeywordAction.HELP: KeywordAction.HELP,
}


class SmsConfigCache:
    def __init__(self, repo: SmsRepository, ttl_seconds: float = TTL_SECONDS) -> None:
        self.repo = repo
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, SmsConfig]] = {}

    def get(self, tenant_id: str, *, fresh: bool = False) -> SmsConfig:
        entry = self._entries.get(tenant_id)
        if not fresh and entry is not None and time.monotonic() - entry[0] < self._ttl:
            return entry[1]
        config = SmsConfig.from_items(tenant_id, self.repo.load(tenant_id))
        self._entries[tenant_id] = (time.monotonic(), config)
        return config

    def invalidate(self, tenant_id: str) -> None:
        self._entries.pop(tenant_id, None)
