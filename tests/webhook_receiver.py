"""A webhook receiver for tests: an HTTP server on loopback that records every delivery and can fail on purpose.

The receiving side verifies with the `standardwebhooks` package, the specification's reference verifier, so a
signature our code gets wrong fails the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    at: float

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verify(self, secret: str) -> dict[str, Any]:
        verified: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return verified


@dataclass
class Receiver:
    """Answers 500 to the first `fail_times` requests for each webhook-id, then 204."""

    fail_times: int = 0
    received: list[Received] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.attempts[headers.get("webhook-id", "")] += 1
                    failing = receiver.attempts[headers.get("webhook-id", "")] <= receiver.fail_times
                    receiver.received.append(Received(headers, body, time.monotonic()))
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def events(self, event_type: str | None = None, subject: str | None = None) -> list[Received]:
        with self._lock:
            found = list(self.received)
        return [
            r
            for r in found
            if (event_type is None or r.event["type"] == event_type)
            and (subject is None or r.event.get("subject") == subject)
        ]

    def wait_for(
        self, event_type: str, subject: str | None = None, *, timeout: float = 5.0, count: int = 1
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(event_type, subject)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"no {event_type} for {subject} within {timeout} s; got {[r.event['type'] for r in self.received]}"
        )
