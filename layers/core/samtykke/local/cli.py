"""`samtykke local`: run the whole system on this machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from samtykke.local import LOGGER

LOCAL_JSON = Path(".samtykke") / "local.json"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run the whole system on this machine: moto, the real handlers, the queue consumers, a demo tenant",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of the HTTP front (default: %(default)s)")
    parser.add_argument("--port", type=int, default=3000, help="port of the HTTP front; 0 picks a free one")
    parser.add_argument(
        "--aws-endpoint",
        metavar="URL",
        help="run against this already-running AWS endpoint (a moto server, LocalStack, a proxy in front of one) "
        "instead of starting moto here, and provision the resources there",
    )
    parser.add_argument(
        "--state",
        metavar="DIR",
        type=Path,
        help="keep the data in DIR across restarts: saved on a clean stop (Ctrl-C, SIGTERM), loaded on start",
    )
    parser.set_defaults(run=run)


class _Stopped(Exception):
    """Raised in the main thread by SIGINT or SIGTERM, wherever it is (starting up included), so `stop()` runs."""


def _on_stop_signal(signum: int, frame: Any) -> None:
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.SIG_IGN)  # a second signal must not cut the clean stop short
    raise _Stopped


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger(LOGGER).setLevel(logging.INFO)  # the front's request log; the handlers log through powertools
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_stop_signal)

    if args.state is not None and args.aws_endpoint is not None:
        print("samtykke local: --state keeps the state of its own moto; it cannot be used with --aws-endpoint")
        return 2
    local_json = Path.cwd() / LOCAL_JSON
    stack = None
    try:
        from samtykke.local.stack import LocalStack  # heavy: boto3, moto

        # A port in use: werkzeug exits with 1.
        stack = LocalStack(args.host, args.port, aws_endpoint=args.aws_endpoint, state_dir=args.state)
        stack.start()
        local_json.parent.mkdir(exist_ok=True)
        local_json.write_text(json.dumps(stack.describe(), indent=2) + "\n", encoding="utf-8")
        print(f"samtykke local ready at {stack.api_url} (details in {LOCAL_JSON})", flush=True)
        print(
            f"  outbox: {stack.api_url}/_local/outbox, every email and SMS sent (`samtykke outbox --last`)", flush=True
        )
        print(f"  demo form: {stack.describe()['demo_url']}", flush=True)
        threading.Event().wait()  # until a signal raises _Stopped
    except _Stopped:
        pass
    finally:
        if stack is not None:
            stack.stop()
        local_json.unlink(missing_ok=True)  # it describes a running stack (with --state, the next start rewrites it)
    return 0
