"""A tenant's configuration (settings, purposes, sources, basis labels, consent texts) as one snapshot.

The whole configuration is one DynamoDB partition, so one Query loads it. Each container caches the snapshot
and, on every use, checks the tenant's `config` change counter (one consistent GetItem of a tiny item): every
configuration write bumps it, so a change takes effect at once in every container (`services/fresh_cache.py`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from samtykke.adapters.change_counters import ChangeCounters
from samtykke.adapters.repository import META, ConsentRepository, tenant_pk
from samtykke.domain.consent import LegalBasis
from samtykke.domain.defaults import LEGAL_BASIS_LABELS
from samtykke.domain.errors import NotFound
from samtykke.models.catalog import ConsentText, LegalBasisLabel, Purpose, Source
from samtykke.models.tenant import Tenant
from samtykke.services.fresh_cache import FreshCache

CONFIG_COUNTER = "config"


class TenantNotFound(NotFound):
    code = "tenant_not_found"


def strip_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}


@dataclass(frozen=True)
class TenantCatalog:
    tenant: Tenant
    root_key_blob: bytes
    purposes: dict[str, Purpose]
    sources: dict[str, Source]
    basis_labels: dict[LegalBasis, str]
    texts: dict[tuple[str, str], list[ConsentText]]  # (purpose, locale) -> versions, oldest first

    @classmethod
    def from_items(cls, items: list[dict[str, Any]]) -> TenantCatalog:
        meta: dict[str, Any] | None = None
        purposes: dict[str, Purpose] = {}
        sources: dict[str, Source] = {}
        labels: dict[LegalBasis, str] = dict(LEGAL_BASIS_LABELS)
        texts: dict[tuple[str, str], list[ConsentText]] = defaultdict(list)
        for item in items:
            kind = item["sk"].split("#", 1)[0]
            if kind == META:
                meta = item
            elif kind == "PURPOSE":
                purposes[item["purpose_id"]] = Purpose.model_validate(strip_keys(item))
            elif kind == "SOURCE":
                sources[item["source_id"]] = Source.model_validate(strip_keys(item))
            elif kind == "BASIS":
                labels[LegalBasis(item["code"])] = item["label"]
            elif kind == "TEXT":
                text = ConsentText.model_validate(strip_keys(item))
                texts[(text.purpose_id, text.locale)].append(text)
        if meta is None:
            raise TenantNotFound("No such tenant")
        return cls(
            tenant=Tenant.model_validate(strip_keys(meta)),
            root_key_blob=meta["root_key_blob"],
            purposes=purposes,
            sources=sources,
            basis_labels=labels,
            texts=dict(texts),
        )

    # Lookups that every request makes, computed once per snapshot rather than per request.
    @cached_property
    def _origins(self) -> frozenset[str]:
        return frozenset(origin.rstrip("/") for origin in self.tenant.allowed_origins)

    @cached_property
    def _locales_by_purpose(self) -> dict[str, tuple[str, ...]]:
        locales: dict[str, list[str]] = defaultdict(list)
        for purpose, locale in sorted(self.texts):
            locales[purpose].append(locale)
        return {purpose: tuple(found) for purpose, found in locales.items()}

    def origin_allowed(self, origin: str) -> bool:
        """Whether a browser's `Origin` is one the tenant allows (a trailing slash on either side is ignored)."""
        return origin.rstrip("/") in self._origins

    def text_locales(self, purpose_id: str) -> tuple[str, ...]:
        return self._locales_by_purpose.get(purpose_id, ())

    def text(self, purpose_id: str, locale: str, version: int | None = None) -> ConsentText | None:
        versions = self.texts.get((purpose_id, locale), [])
        if version is None:
            return versions[-1] if versions else None
        return next((t for t in versions if t.version == version), None)

    def legal_basis_labels(self) -> list[LegalBasisLabel]:
        return [LegalBasisLabel(code=code, label=label) for code, label in self.basis_labels.items()]


class CatalogCache:
    """Tenant configuration snapshots, current on every `get`."""

    def __init__(self, repo: ConsentRepository) -> None:
        self._repo = repo
        self._cache = FreshCache(ChangeCounters(repo.table_name), CONFIG_COUNTER, self._load)

    def _load(self, tenant_id: str) -> TenantCatalog:
        return TenantCatalog.from_items(list(self._repo.query_partition(tenant_pk(tenant_id))))

    def get(self, tenant_id: str) -> TenantCatalog:
        return self._cache.get(tenant_id)

    def recent(self, tenant_id: str) -> TenantCatalog:
        """The snapshot this container holds, unchecked, else a checked one. Only for a second look within a request
        whose route already made the checked `get` (the CORS header on its answer): it saves that counter read."""
        return self._cache.held(tenant_id) or self.get(tenant_id)

    def held_at(self, tenant_id: str) -> tuple[TenantCatalog, int] | None:
        """The snapshot this container holds and the `CONFIG_COUNTER` it was loaded at, unchecked; None if none.

        A write may use it by asserting the counter in its own transaction (`ContactWrite.counter_at`)."""
        return self._cache.held_at(tenant_id)

    def invalidate(self, tenant_id: str) -> None:
        """The tenant's configuration changed (call after the write): every container reloads it on next use."""
        self._cache.changed(tenant_id)

    def forget(self, tenant_id: str) -> None:
        """Drops this container's snapshot only, for a reader that must see writes not yet counted."""
        self._cache.forget(tenant_id)
