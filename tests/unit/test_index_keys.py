"""The index key names that adapters spell out are the ones the table's one declaration (resources.py) gives."""

from __future__ import annotations

import pytest

from samtykke.adapters import campaign_repository, contact_directory
from samtykke.resources import TABLE

pytestmark = pytest.mark.unit


def test_the_campaign_repository_queries_each_index_by_its_declared_partition_key() -> None:
    # Given the table's declared indexes
    declared = {index.name: index.partition_key.name for index in TABLE.indexes}

    # Then the campaign repository queries each of them, and only them, by that partition key
    assert declared == campaign_repository._INDEX_KEYS | {"directory": "gsi3pk"}


def test_the_contact_directory_queries_its_indexes_by_their_declared_keys() -> None:
    declared = {index.name: (index.partition_key.name, index.sort_key.name) for index in TABLE.indexes}
    assert {name: declared[name] for name in contact_directory.INDEX_KEYS} == contact_directory.INDEX_KEYS
