"""samtykke on in-process moto: what integration tests and benchmarks run on.

The same provisioning and handler environment as `samtykke local`, without the server: boto3 calls go to
`moto.mock_aws` in this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from samtykke.adapters.aws import reset_clients
from samtykke.local.provision import LOCAL_AWS_ENVIRONMENT, Resources, handler_environment, provision
from samtykke.resources import DEFAULT_REGION


def _forget_cached_configuration() -> None:
    from samtykke.services.context import services
    from samtykke.settings import get_settings

    reset_clients()
    get_settings.cache_clear()
    services.cache_clear()


@contextmanager
def in_process_aws(public_base_url: str = "https://consent.example.test") -> Iterator[Resources]:
    """A fresh moto AWS with every resource provisioned, and the handler environment pointing at it."""
    import boto3
    from moto import mock_aws

    from samtykke.local import moto_fixes

    moto_fixes.apply()
    from samtykke.local import moto_ses_bulk

    moto_ses_bulk.install()  # SendBulkEmail, which moto lacks
    environment = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"} | LOCAL_AWS_ENVIRONMENT
    with mock.patch.dict(os.environ, environment, clear=True), mock_aws():
        resources = provision(boto3.session.Session(region_name=DEFAULT_REGION))
        os.environ.update(handler_environment(resources, public_base_url=public_base_url))
        _forget_cached_configuration()
        try:
            yield resources
        finally:
            _forget_cached_configuration()
