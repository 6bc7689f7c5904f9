"""The services' dependencies, built once per container from the settings. Tests build their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Protocol

from samtykke.adapters.crypto import KmsKeyring
from samtykke.adapters.mailer import SesMailer
from samtykke.adapters.repository import ConsentRepository
from samtykke.domain.mail import OutgoingEmail
from samtykke.settings import Settings, get_settings

if TYPE_CHECKING:
    from samtykke.services.catalog import CatalogCache


class Mailer(Protocol):
    def send(self, message: OutgoingEmail) -> str: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    repo: ConsentRepository
    keyring: KmsKeyring
    mailer: Mailer
    clock: Callable[[], datetime] = utc_now

    @cached_property
    def catalogs(self) -> CatalogCache:
        # Imported here: the catalog's models bring in pydantic, which the authorizer's API keys never need.
        from samtykke.services.catalog import CatalogCache

        return CatalogCache(self.repo)


@lru_cache(maxsize=1)
def services() -> Services:
    settings = get_settings()
    return Services(
        settings=settings,
        repo=ConsentRepository(settings.table_name),
        keyring=KmsKeyring(settings.kms_key_id),
        mailer=SesMailer(settings.ses_configuration_set),
    )
