"""Logger and Metrics, created once and imported everywhere. The service name comes from the environment.

The X-Ray SDK import is the single largest cold-start cost, so the Tracer is built only by the functions
that want it (`tracer()`); hot public paths never import it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    # Only the AWS SDK's calls: the X-Ray SDK's patch of everything imports every library it can patch (sqlite3,
    # SQLAlchemy, httpx…), and our functions call nothing but AWS.
    return Tracer(patch_modules=("botocore",))
