"""`LocalStack`: the whole system on this machine, on a moto server, for `samtykke local` and for tests.

By default the stack starts its own moto server, in this process, with the DynamoDB speed-ups of
`moto_speedups.py` (transaction rollback proportional to the transaction, no whole-table copies). Given
`aws_endpoint`, it runs against an endpoint that is already running instead (another moto server, LocalStack, a
fault-injecting proxy) and provisions its resources there under a name prefix of their own. The outbox then shows
what the moto in this process sent, which is nothing unless that endpoint leads back to it (as the chaos harness's
proxy does). Given `state_dir` (its own moto only), it loads the state saved there on start and saves it on a clean
stop (`state.py`), so the data, the outbox and the demo tenant's keys survive a restart.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from samtykke.local import demo, state
from samtykke.local.apigw import Router
from samtykke.local.consumers import Consumers
from samtykke.local.front import Front, LocalEndpoint
from samtykke.local.lambdas import LOCAL_ACCOUNT_ID, Invoker, LambdaRuntime
from samtykke.local.moto_server import MotoServer
from samtykke.local.moto_speedups import cheap_transaction_rollback
from samtykke.local.outbox import read_outbox, record_send_times
from samtykke.local.provision import (
    DEFAULT_PREFIX,
    LOCAL_AWS_ENVIRONMENT,
    Resources,
    handler_environment,
    provision,
    resource_name,
)
from samtykke.resources import DEFAULT_REGION, ROUTES, SCHEDULES, TABLE_STREAM, ScheduleSpec

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

    from samtykke.bootstrap import DemoTenant

LOOPBACK = "127.0.0.1"
DRAIN_TIMEOUT_SECONDS = 30.0


class LocalStack:
    """moto server + resources from the specs + HTTP front + queue consumers + the demo tenant.

    Each function runs in worker processes of its own (`LambdaRuntime`). This process sets its own `os.environ` for
    the AWS endpoint and the demo tenant's seeding, and restores it on `stop()`.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 3000,
        *,
        aws_endpoint: str | None = None,
        pollers: int = 1,
        state_dir: Path | None = None,
    ) -> None:
        if state_dir is not None and aws_endpoint is not None:
            raise ValueError("state_dir keeps the state of the stack's own moto; an external endpoint keeps its own")
        self._state_dir = state_dir
        self._front = Front(
            Router(ROUTES), self._invoke, region=DEFAULT_REGION, local_endpoints=self._local_endpoints()
        )
        self._front_server: BaseWSGIServer = make_server(host, port, self._front, threaded=True)  # binds the port now
        self.api_url = f"http://{host}:{self._front_server.server_port}"
        self._moto = MotoServer(LOOPBACK) if aws_endpoint is None else None
        self.aws_endpoint_url = aws_endpoint or self._moto.endpoint_url  # type: ignore[union-attr]
        # Resources of their own on an endpoint that may hold others' (a second run against the same server).
        self.prefix = DEFAULT_PREFIX if aws_endpoint is None else f"{DEFAULT_PREFIX}-{secrets.token_hex(3)}"
        self._pollers = pollers
        self._patches = ExitStack()
        self._saved_environ: dict[str, str | None] = {}
        self._front_thread = threading.Thread(target=self._front_server.serve_forever, name="front", daemon=True)
        self.env: dict[str, str] = {}
        self.resources: Resources | None = None
        self.demo: DemoTenant | None = None
        self._consumers: Consumers | None = None
        self._runtime: LambdaRuntime | None = None

    def start(self) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the front logs its own requests; moto's are noise
        saved = state.load(self._state_dir) if self._state_dir is not None else None
        if self._moto is not None:
            self._patches.enter_context(cheap_transaction_rollback())
            self._moto.start()
            record_send_times()
        aws_environ = self._aws_environ()
        self._set_environ(aws_environ)
        session = boto3.session.Session(region_name=DEFAULT_REGION)
        if saved is not None:
            self.resources, self.demo = saved.resources, saved.demo
        else:
            self.resources = provision(session, endpoint_url=self.aws_endpoint_url, prefix=self.prefix)
        self.env = handler_environment(self.resources, public_base_url=self.api_url)
        self._set_environ(self.env)  # this process seeds the demo tenant with the real adapters
        self._runtime = LambdaRuntime({**aws_environ, **self.env})

        if saved is None:
            from samtykke.bootstrap import seed_demo_tenant  # after the environment is set: it builds the adapters

            self.demo = seed_demo_tenant(self.api_url)
        self._consumers = _consumers(
            session, self.resources, self.aws_endpoint_url, self._runtime, prefix=self.prefix, pollers=self._pollers
        )
        self._consumers.start()
        self._front_thread.start()
        return self

    def stop(self) -> None:
        if self._front_thread.is_alive():
            self._front_server.shutdown()
        self._front_server.server_close()
        if self._consumers is not None:
            self._consumers.stop()
        if self._runtime is not None:
            self._runtime.close()
        if self._state_dir is not None and self.resources is not None and self.demo is not None:
            state.save(self._state_dir, state.SavedStack(self.resources, self.demo))  # nothing runs any more
        if self._moto is not None:
            self._moto.stop()
        self._patches.close()
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def drain(self, timeout: float = DRAIN_TIMEOUT_SECONDS) -> None:
        """Wait until every queue is empty and every consumer idle; TimeoutError after `timeout` seconds."""
        if self._consumers is not None:
            self._consumers.drain(timeout)

    def describe(self) -> dict[str, Any]:
        """What `.samtykke/local.json` holds."""
        if self.resources is None or self.demo is None:
            raise RuntimeError("start() the stack first")
        return {
            "api_url": self.api_url,
            "aws_endpoint_url": self.aws_endpoint_url,
            "region": DEFAULT_REGION,
            "tenant_id": self.demo.tenant_id,
            "admin_api_key": self.demo.admin_api_key,
            "purposes": self.demo.purposes,
            "outbox_url": f"{self.api_url}/_local/outbox",
            "drain_url": f"{self.api_url}/_local/drain",
            "demo_url": f"{self.api_url}{demo.DEMO_PATH}",
            "resources": self.resources.describe(),
            "env": self.env,
        }

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        if self._runtime is None:
            raise RuntimeError("start() the stack first")
        return self._runtime(function, event)

    def _aws_environ(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.aws_endpoint_url, **LOCAL_AWS_ENVIRONMENT}

    def _set_environ(self, values: dict[str, str]) -> None:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", *values):  # a profile or token would override the fakes
            self._saved_environ.setdefault(name, os.environ.get(name))
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(values)

    def _local_endpoints(self) -> dict[tuple[str, str], LocalEndpoint]:
        return {
            ("GET", "/_local/outbox"): lambda request: _json(read_outbox(request.args.get("to"))),
            ("POST", "/_local/drain"): self._drain_endpoint,
            ("GET", demo.DEMO_PATH): self._demo_page,
            ("GET", demo.THANKS_PATH): lambda _: _html(demo.thanks_page()),
        } | {("POST", f"/_local/schedules/{spec.logical_id}"): self._schedule_endpoint(spec) for spec in SCHEDULES}

    def _schedule_endpoint(self, spec: ScheduleSpec) -> LocalEndpoint:
        """Runs a schedule's function now, with the event EventBridge would send (no clock runs them locally)."""

        def run(_: Request) -> Response:
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": LOCAL_ACCOUNT_ID,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": DEFAULT_REGION,
                "resources": [f"arn:aws:events:{DEFAULT_REGION}:{LOCAL_ACCOUNT_ID}:rule/{spec.logical_id}"],
                "detail": {},
            }
            return _json({"schedule": spec.logical_id, "result": self._invoke(spec.function, event)})

        return run

    def _drain_endpoint(self, request: Request) -> Response:
        try:
            self.drain(float(request.args.get("timeout", DRAIN_TIMEOUT_SECONDS)))
        except TimeoutError as error:
            return _json({"error": {"code": "drain_timeout", "message": str(error)}}, status=504)
        return _json({"drained": True})

    def _demo_page(self, _: Request) -> Response:
        assert self.demo is not None
        page = demo.signup_page(
            tenant_id=self.demo.tenant_id, purposes=self.demo.purposes, redirect=f"{self.api_url}{demo.THANKS_PATH}"
        )
        return _html(page)


def _consumers(
    session: boto3.session.Session,
    resources: Resources,
    endpoint_url: str,
    invoke: Invoker,
    *,
    prefix: str,
    pollers: int,
) -> Consumers:
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    consumers = Consumers(sqs, invoke, region=resources.region, pollers=pollers)
    for queue in resources.queues:
        consumers.add_queue(queue)
    sns = session.client("sns", endpoint_url=endpoint_url)
    for topic in resources.topics:
        name = resource_name(prefix, topic.spec.logical_id) + "-subscription"
        consumers.add_topic(topic, sns, queue_name=name)
    if resources.table_stream_arn:
        consumers.add_stream(
            session.client("dynamodbstreams", endpoint_url=endpoint_url),
            arn=resources.table_stream_arn,
            function=TABLE_STREAM.consumer,
            batch_size=TABLE_STREAM.batch_size,
            max_retries=TABLE_STREAM.max_retries,
        )
    return consumers


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _html(page: str) -> Response:
    return Response(page, mimetype="text/html")
