"""The services' dependencies, built once per container from the settings. Tests build their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

from samtykke.adapters.crypto import KmsKeyring
from samtykke.adapters.mailer import SesMailer
from samtykke.adapters.repository import ConsentRepository
from samtykke.domain.mail import OutgoingEmail
from samtykke.services.catalog import CatalogCache
from samtykke.settings import Settings, get_settings


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
    catalogs: CatalogCache = field(init=False)
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        self.catalogs = CatalogCache(self.repo)


@lru_cache(maxsize=1)
def services() -> Services:
    settings = get_settings()
    return Services(
        settings=settings,
        repo=ConsentRepository(settings.table_name),
        keyring=KmsKeyring(settings.kms_key_id),
        mailer=SesMailer(settings.ses_configuration_set),
    )
