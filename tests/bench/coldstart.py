"""Cold starts as deployed: every function imported from the built assets, in a clean interpreter (CPython 3.13 when
there is one), with Lambda's environment set (tests/deployed.py), against the runtime's own `import boto3`.

Figures are CPU seconds of the child process (`time.process_time`) around the import alone, the median over
`rounds` fresh interpreters, with the boto3 reference measured in the same rounds, interleaved, so that the load of
a shared machine falls on both sides of each ratio alike.

The first request: consent_capture's first invocation in a fresh container, against a moto server (the local
stack's), divided by what a bare function pays at least, `import boto3` plus one client.

`--cold-start venv` measures the old set-up instead: the modules from this checkout's venv (CPython of the venv,
bytecode cached by the interpreter), which is not what Lambda runs.
"""

from __future__ import annotations

import copy
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.assets import host_interpreter, target_python
from tests.deployed import DEPLOYED, DeployedTree, build_tree, lambda_environment, run_as_deployed

ROOT = Path(__file__).resolve().parents[2]
_TIMED = """
import json, time
started, wall = time.process_time(), time.perf_counter()
{statement}
print(json.dumps({{"cpu": time.process_time() - started, "wall": time.perf_counter() - wall}}))
"""
_BOTO3 = "import boto3"
_BOTO3_AND_CLIENT = "import boto3\nboto3.client('dynamodb')"
_FIRST_REQUEST = """
import json, time
import handler
event = json.loads({event!r})
class Context:
    function_name, memory_limit_in_mb, invoked_function_arn, aws_request_id = "f", 512, "arn:aws:lambda:::f", "r1"
    def get_remaining_time_in_millis(self): return 10_000
started = time.process_time()
response = handler.lambda_handler(event, Context())
print(json.dumps({{"cpu": time.process_time() - started, "status": response["statusCode"]}}))
"""


def _venv_run(function: str, code: str) -> dict[str, Any]:
    spec = DEPLOYED[function]
    code = code.replace("import handler", f"import functions.{spec.folder}.handler")
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=lambda_environment(function),
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def import_costs(rounds: int, mode: str = "deployed") -> dict[str, Any]:
    """Each deployed function's import CPU time against `import boto3`, interleaved over `rounds` fresh interpreters."""
    tree = build_tree() if mode == "deployed" else None

    def timed(function: str, statement: str) -> dict[str, Any]:
        code = _TIMED.format(statement=statement)
        return run_as_deployed(tree, function, code) if tree else _venv_run(function, code)

    boto3_cpu: list[float] = []
    cpu: dict[str, list[float]] = {name: [] for name in DEPLOYED}
    for _ in range(rounds):
        for name in DEPLOYED:
            boto3_cpu.append(timed("consent_capture", _BOTO3)["cpu"])
            cpu[name].append(timed(name, "import handler")["cpu"])
    boto3_ms = statistics.median(boto3_cpu) * 1000
    handlers = {
        name: {
            "import_cpu_ms": round(statistics.median(samples) * 1000, 1),
            "ratio_to_boto3": round(statistics.median(samples) * 1000 / boto3_ms, 3),
        }
        for name, samples in cpu.items()
    }
    return {
        "mode": mode,
        "interpreter": _describe_interpreter(mode),
        "rounds": rounds,
        "boto3_cpu_ms": round(boto3_ms, 1),
        "handlers": handlers,
        "first_request": first_request(tree, rounds) if tree else None,
    }


def first_request(tree: DeployedTree, rounds: int) -> dict[str, Any]:
    """consent_capture's first invocation in fresh containers, against the local stack's moto server."""
    from samtykke.local.stack import LocalStack
    from tests.conftest import load_event

    with LocalStack() as stack:
        environment = {"AWS_ENDPOINT_URL": stack.aws_endpoint_url, **stack.env}
        invocation: list[float] = []
        reference: list[float] = []
        for i in range(rounds):
            event = copy.deepcopy(load_event("apigw/consent_capture_json.json"))
            event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/public/demo/consents"
            event["pathParameters"] = {"tenant_id": "demo"}
            event["headers"]["origin"] = stack.api_url
            event["body"] = json.dumps({"email": f"cold{i}@bench.example", "purpose": ["e-marketing"]})
            code = _FIRST_REQUEST.format(event=json.dumps(event))
            result = run_as_deployed(tree, "consent_capture", code, environment=environment)
            assert result["status"] == 201, result
            invocation.append(result["cpu"])
            reference.append(
                run_as_deployed(tree, "consent_capture", _TIMED.format(statement=_BOTO3_AND_CLIENT))["cpu"]
            )
    first, floor = statistics.median(invocation) * 1000, statistics.median(reference) * 1000
    return {
        "function": "consent_capture",
        "first_invocation_cpu_ms": round(first, 1),
        "boto3_and_one_client_cpu_ms": round(floor, 1),
        "ratio": round(first / floor, 3),
    }


def _describe_interpreter(mode: str) -> str:
    if mode == "venv":
        return f"venv CPython {sys.version.split()[0]}"
    if target_python() is None:
        return f"CPython {sys.version.split()[0]} (no 3.13 found), assets without bytecode"
    return f"{host_interpreter()} (CPython 3.13), unchecked-hash bytecode"
