"""Issue 20: a short, seeded schemathesis run over every operation, public and admin, on the local stack.

`make fuzz` is the long version (tests/fuzz/run.py). Any 5xx or response that breaks its schema fails this test.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningStack
from tests.fuzz.run import fuzz

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 2  # valid and schema-breaking cases together; about a minute and a half on 2 cores
SEED = 20


def test_no_operation_answers_a_5xx_or_breaks_its_schema(local_stack: RunningStack) -> None:
    report = fuzz(
        local_stack.api_url, local_stack.info["admin_api_key"], examples=EXAMPLES_PER_OPERATION, seed_value=SEED
    )

    assert report.operations >= 80  # every operation of /openapi.json, public and admin
    assert report.cases >= report.operations
    assert report.server_errors == []
    assert report.schema_violations == []
