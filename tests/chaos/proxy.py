"""A fault-injecting HTTP proxy between the handlers and moto.

Every AWS call of the handlers goes through it (`samtykke local --aws-endpoint`). It names each request's operation
(`dynamodb:TransactWriteItems`, `sqs:DeleteMessage`, `sesv2:SendBulkEmail`...), and on the operations a `FaultPlan`
names it injects, each at its own rate, from one seeded random stream:
- `lost_reply`: forwards the request, so moto applies it, then closes the connection without an answer;
- `error_500`: answers 500 InternalServerError without forwarding;
- `throttle`: answers the service's throttling error without forwarding;
- `reset`: resets the connection (RST) without forwarding;
- `latency`: waits up to `max_latency` seconds before forwarding.
At most one of the first four hits a request; latency comes on top. What it did is counted per operation and fault.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULTS = ("lost_reply", "error_500", "throttle", "reset")

# Throttling as each protocol spells it: (status, error code).
THROTTLING = {
    "dynamodb": (400, "ProvisionedThroughputExceededException"),
    "sqs": (400, "ThrottlingException"),
    "sesv2": (429, "TooManyRequestsException"),
    "sns": (400, "Throttling"),
    "kms": (400, "ThrottlingException"),
    "s3": (503, "SlowDown"),
}


@dataclass(frozen=True)
class Rates:
    """How often each fault hits one operation (0..1 each), and the most latency added."""

    lost_reply: float = 0.0
    error_500: float = 0.0
    throttle: float = 0.0
    reset: float = 0.0
    latency: float = 0.0
    max_latency: float = 0.2
    # Faults the operation's first armed calls meet, in order, before the rates apply: an operation made only a few
    # times in a short run (one bulk send per 50 recipients) still meets each of them.
    opening: tuple[str, ...] = ()


@dataclass
class FaultPlan:
    """Rates by operation (`service:Operation`, or `service:*`), and the seed of the one random stream."""

    rates: dict[str, Rates]
    seed: int = 14

    def for_operation(self, operation: str) -> Rates | None:
        service = operation.partition(":")[0]
        return self.rates.get(operation) or self.rates.get(f"{service}:*")


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[tuple[str, str]] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        by_fault: Counter[str] = Counter()
        for (_, fault), n in self.faults.items():
            by_fault[fault] += n
        return {
            "requests": sum(self.requests.values()),
            "faults": dict(sorted(by_fault.items())),
            "by_operation": {f"{op} {fault}": n for (op, fault), n in sorted(self.faults.items())},
        }


def operation_of(method: str, path: str, headers: Any, body: bytes) -> str:
    """`service:Operation` of a botocore request, from its signature scope and its protocol's way of naming it."""
    authorization = headers.get("Authorization", "")
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) > 3 else "unknown"
    target = headers.get("X-Amz-Target")
    if target:  # JSON protocols: DynamoDB, SQS, KMS
        return f"{service}:{target.rpartition('.')[2]}"
    if service in ("sns", "sqs") and body:  # query protocol
        action = parse_qs(body.decode("utf-8", errors="replace")).get("Action", [""])[0]
        return f"{service}:{action}"
    if service == "ses" and path.startswith("/v2/"):  # SES v2 signs as `ses`; its REST paths tell it apart
        sends = {"outbound-emails": "sesv2:SendEmail", "outbound-bulk-emails": "sesv2:SendBulkEmail"}
        send = sends.get(path.rstrip("/").rpartition("/")[2]) if method == "POST" else None
        return send or "sesv2:*"
    return f"{service}:{method}"


class FaultProxy:
    """The proxy on a loopback port, forwarding to `upstream`; faults only while `armed`."""

    def __init__(self, upstream: str, plan: FaultPlan, host: str = "127.0.0.1") -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = plan
        self.stats = Stats()
        self.armed = False
        self._random = random.Random(plan.seed)
        self._armed_calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- one request -----------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        operation = operation_of(handler.command, handler.path, handler.headers, body)
        fault, delay = self._draw(operation)
        if delay:
            time.sleep(delay)
        if fault == "reset":
            self._reset(handler)
            return
        if fault in ("error_500", "throttle"):
            self._answer_error(handler, operation, fault)
            return
        status, reason, headers, payload = self._forward(handler, body)
        if fault == "lost_reply":
            handler.close_connection = True  # applied upstream; the caller never hears of it
            return
        head = handler.command == "HEAD"  # its Content-Length is the object's, with no body to measure
        handler.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in ("transfer-encoding", "connection") and (head or name.lower() != "content-length"):
                handler.send_header(name, value)
        if not head:
            handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if not head:
            handler.wfile.write(payload)

    def _draw(self, operation: str) -> tuple[str | None, float]:
        with self._lock:
            self.stats.requests[operation] += 1
            rates = self.plan.for_operation(operation) if self.armed else None
            if rates is None:
                return None, 0.0
            armed_calls = self._armed_calls[operation]
            self._armed_calls[operation] += 1
            if armed_calls < len(rates.opening):
                fault = rates.opening[armed_calls]
                self.stats.faults[(operation, fault)] += 1
                return fault, 0.0
            roll, delay = self._random.random(), 0.0
            if self._random.random() < rates.latency:
                delay = self._random.uniform(0, rates.max_latency)
                self.stats.faults[(operation, "latency")] += 1
            threshold = 0.0
            for fault in FAULTS:
                threshold += getattr(rates, fault)
                if roll < threshold:
                    self.stats.faults[(operation, fault)] += 1
                    return fault, delay
            return None, delay

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in range(2):  # a kept-alive upstream connection may have gone stale
            connection = self._connection(fresh=attempt > 0)
            try:
                headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("connection", "host")}
                headers["Host"] = f"{self._upstream[0]}:{self._upstream[1]}"
                connection.request(handler.command, handler.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                return response.status, response.reason, response.getheaders(), payload
            except (http.client.HTTPException, OSError):
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            connection = http.client.HTTPConnection(*self._upstream, timeout=60)
            self._local.connection = connection
        return connection

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True

    @staticmethod
    def _answer_error(handler: BaseHTTPRequestHandler, operation: str, fault: str) -> None:
        service = operation.partition(":")[0]
        throttling = THROTTLING.get(service, (400, "Throttling"))
        status, code = (500, "InternalServerError") if fault == "error_500" else throttling
        if service in ("sns", "s3"):  # XML protocols
            payload = f"<ErrorResponse><Error><Code>{code}</Code><Message>{fault}</Message></Error></ErrorResponse>"
            content_type = "text/xml"
        else:
            payload = json.dumps({"__type": code, "message": fault, "Message": fault})
            content_type = "application/x-amz-json-1.0"
        data = payload.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("x-amzn-ErrorType", code)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
