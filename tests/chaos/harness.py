"""The chaos harness: the whole local stack, with every AWS call of its handlers going through the fault proxy.

    moto (this process, with the speed-ups)  <-  FaultProxy  <-  samtykke local --aws-endpoint (handlers, consumers)

The queues' visibility timeouts are cut to `VISIBILITY_SECONDS`, so SQS redelivers work that is still running, and
every queue gets several pollers, as Lambda's event source mapping runs several. The harness reads the truth past the
proxy, straight from moto: the outbox (what was really sent) and the table.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
from botocore.exceptions import BotoCoreError, ClientError

from samtykke.adapters.repository import from_attributes
from samtykke.domain.ledger import first_broken_link
from samtykke.local.moto_server import MotoServer
from samtykke.local.moto_speedups import cheap_transaction_rollback
from samtykke.local.outbox import read_outbox, record_send_times
from samtykke.local.stack import LOOPBACK, LocalStack
from samtykke.resources import DEFAULT_REGION
from tests.chaos.proxy import FaultPlan, FaultProxy, Rates

VISIBILITY_SECONDS = 2
POLLERS = 3
HTTP_ATTEMPTS = 8  # a client retries a 5xx (or a dropped connection) this many times, as a web form or Twilio would

# Everything the handlers call, at rates that make a few hundred faults in a run. Provider sends (SES, SNS) get no
# connection resets: a reset before the request reached the provider looks to the client exactly like a lost
# answer, and neither takes an idempotency key, so samtykke counts both as sent (unconfirmed) and never resends.
# That is the one fault nobody can resolve; docs/reliability.md says so.
STORE = Rates(lost_reply=0.04, error_500=0.02, throttle=0.02, reset=0.02, latency=0.2, max_latency=0.05)
PLAN = FaultPlan(
    {
        "dynamodb:*": STORE,
        "sqs:*": STORE,
        "kms:*": Rates(error_500=0.02, throttle=0.02, reset=0.02, latency=0.1, max_latency=0.05),
        "s3:*": Rates(error_500=0.02, reset=0.01, latency=0.1, max_latency=0.05),
        "sesv2:SendEmail": Rates(lost_reply=0.01, error_500=0.02, throttle=0.01, latency=0.2, max_latency=0.05),
        "sesv2:SendBulkEmail": Rates(
            lost_reply=0.02,
            error_500=0.04,
            throttle=0.04,
            latency=0.2,
            max_latency=0.05,
            opening=("throttle", "lost_reply", "error_500"),
        ),
        "sns:Publish": Rates(lost_reply=0.01, error_500=0.02, throttle=0.01, latency=0.2, max_latency=0.05),
    },
    seed=14,
)


@dataclass
class Chaos:
    stack: LocalStack
    proxy: FaultProxy
    moto_url: str
    admin: httpx.Client
    public: httpx.Client
    findings: dict[str, Any] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str:
        assert self.stack.demo is not None
        return self.stack.demo.tenant_id

    def direct(self, service: str) -> Any:
        """A client straight to moto, past the proxy: how the harness reads the truth."""
        return boto3.client(service, endpoint_url=self.moto_url, region_name=DEFAULT_REGION)

    @contextmanager
    def faults(self) -> Iterator[None]:
        self.proxy.armed = True
        try:
            yield
        finally:
            self.proxy.armed = False

    def settle(self, timeout: float = 300.0) -> None:
        """Waits until the queues are empty and the consumers idle (redeliveries included)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.stack.drain(timeout=min(60.0, max(1.0, deadline - time.monotonic())))
                time.sleep(VISIBILITY_SECONDS + 1)  # messages in flight come back after their visibility timeout
                self.stack.drain(timeout=min(60.0, max(1.0, deadline - time.monotonic())))
                return
            except (TimeoutError, BotoCoreError, ClientError):  # the consumers' own depth reads meet the faults too
                if time.monotonic() > deadline:
                    raise

    def table_items(self, prefix: str = "") -> list[dict[str, Any]]:
        assert self.stack.resources is not None
        client = self.direct("dynamodb")
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.stack.resources.table_name}
        while True:
            page = client.scan(**request)
            items += [from_attributes(i) for i in page["Items"] if i["pk"]["S"].startswith(prefix)]
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def call(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request as a patient client makes it: retried after a 5xx or a dropped connection, never after a 4xx."""
    response: httpx.Response | None = None
    for attempt in range(HTTP_ATTEMPTS):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError:
            time.sleep(0.2 * (attempt + 1))
            continue
        if response.status_code < 500:
            return response
        time.sleep(min(2.0, float(response.headers.get("Retry-After", "0.2")) * 0.2 * (attempt + 1)))
    assert response is not None, f"{method} {url}: no answer in {HTTP_ATTEMPTS} tries"
    return response


@contextmanager
def chaotic_stack(plan: FaultPlan = PLAN) -> Iterator[Chaos]:
    from samtykke.local.inprocess import _forget_cached_configuration

    saved = dict(os.environ)
    with cheap_transaction_rollback():
        moto = MotoServer(LOOPBACK)
        moto.start()
        record_send_times()
        proxy = FaultProxy(moto.endpoint_url, plan).start()
        stack = LocalStack(port=0, aws_endpoint=proxy.url, pollers=POLLERS)
        try:
            _forget_cached_configuration()
            stack.start()
            _forget_cached_configuration()  # this process's own adapters (seeding, links) now use the stack's env
            assert stack.resources is not None
            assert stack.demo is not None
            sqs = boto3.client("sqs", endpoint_url=moto.endpoint_url, region_name=DEFAULT_REGION)
            for queue in stack.resources.queues:
                sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)})
            headers = {"authorization": f"Bearer {stack.demo.admin_api_key}"}
            with (
                httpx.Client(base_url=stack.api_url, headers=headers, timeout=60) as admin,
                httpx.Client(base_url=stack.api_url, timeout=60) as public,
            ):
                yield Chaos(stack, proxy, moto.endpoint_url, admin, public)
        finally:
            stack.stop()
            proxy.stop()
            moto.stop()
            os.environ.clear()
            os.environ.update(saved)
            _forget_cached_configuration()


def sent_to(campaign_id: str | None = None) -> Counter[str]:
    """How many messages each address or number got (of one campaign, if given), from moto's own record."""
    counts: Counter[str] = Counter()
    for message in read_outbox():
        if campaign_id is not None and campaign_id not in (message.get("headers") or {}).get("X-Samtykke-Campaign", ""):
            continue
        for recipient in message["to"]:
            counts[recipient.lower()] += 1
    return counts


def broken_chains(chaos: Chaos) -> list[str]:
    """Contacts whose consent log does not verify (should be none)."""
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in chaos.table_items(f"T#{chaos.tenant_id}#C#"):
        if item["sk"].startswith("EVENT#"):
            events[item["pk"]].append({k: v for k, v in item.items() if k not in ("pk", "sk")})
    broken = []
    for pk, log in events.items():
        log.sort(key=lambda e: int(e["seq"]))
        if first_broken_link(log) is not None:
            broken.append(pk)
    return broken


def concurrently(work: list[Callable[[], Any]], workers: int = 16) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: job(), work))
