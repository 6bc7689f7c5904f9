"""A Lambda cold start's import without the cyclic garbage collector.

Importing a handler allocates hundreds of thousands of objects (modules, classes, functions) that live as long as the
container, and the collector would walk them again and again while they are made: 10-20% of the import. A handler
imports this module first, which pauses the collector, and calls `imported()` last, which moves everything made so
far into the permanent generation (`gc.freeze`) and turns the collector back on for the requests.

Only on Lambda (`LAMBDA_TASK_ROOT` is set): the local stack and the tests import many handlers into one long-lived
process, where a handler that failed to import must not leave the collector off.
"""

import gc
import os

IN_LAMBDA = "LAMBDA_TASK_ROOT" in os.environ

if IN_LAMBDA:
    gc.disable()


def imported() -> None:
    if IN_LAMBDA:
        gc.freeze()
        gc.enable()
