"""POSTs a webhook to its receiver, connecting only to the addresses that passed the SSRF check.

The host is resolved once, every address checked (domain/webhooks.check_resolved), and the connection made to a
checked address while TLS still verifies the host's name: a DNS answer that changes between check and connect
(DNS rebinding) cannot steer us to a private address. Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from samtykke.domain.webhooks import WebhookUrlRefused, check_resolved, check_url

TIMEOUT_SECONDS = 10
MAX_RESPONSE_BYTES = 1024


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def resolve(host: str, port: int) -> list[str]:
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except socket.gaierror as exc:
        raise WebhookUrlRefused("The webhook host does not resolve") from exc


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post(url: str, body: str, headers: dict[str, str], *, local: bool) -> SendResult:
    """One attempt. `local` (the local stack) allows http and private addresses; the cloud never does."""
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> SendResult:
        return SendResult(status, error, int((time.monotonic() - started) * 1000))

    try:
        scheme, host, port = check_url(url, allow_insecure=local)
        address = check_resolved(resolve(host, port), allow_private=local)[0]
    except WebhookUrlRefused as exc:
        return done(None, exc.code)
    connection: http.client.HTTPConnection = (
        _PinnedHTTPSConnection(host, port, address) if scheme == "https" else _PinnedHTTPConnection(host, port, address)
    )
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body.encode(), headers={**headers, "user-agent": "samtykke-webhooks"})
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return done(response.status, None if 200 <= response.status < 300 else f"http_{response.status}")
    except (OSError, http.client.HTTPException) as exc:
        return done(None, type(exc).__name__)
    finally:
        connection.close()
