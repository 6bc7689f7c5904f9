"""Outbound webhooks' pure rules: Standard Webhooks signing, the retry schedule, and which targets are allowed.

Signing follows the Standard Webhooks specification: `webhook-signature: v1,<base64 HMAC-SHA256>` over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed with the bytes of a `whsec_<base64>` secret. While a rotated-out
secret is still in its overlap window, every delivery carries a signature with each live secret, space-separated,
so a receiver that has not switched yet still verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from samtykke.domain.errors import InvalidInput

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


class WebhookUrlRefused(InvalidInput):
    code = "webhook_url_refused"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    mac = hmac.new(_secret_bytes(secret), f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secrets_in_use: Iterable[str], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for one delivery attempt, signed with every live secret."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets_in_use),
        "content-type": "application/json",
    }


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n (1-based, after the first failure) waits about base * 2**(n-1)
    seconds, capped at `cap`, jittered into [0.5, 1.0] of that. Attempts stop once `window` seconds have passed
    since the first try; the schedule's minimum delays cover the window, so retries run for at least `window`."""

    base_seconds: int = 5
    cap_seconds: int = 4 * 3600
    window_seconds: int = 27 * 3600

    def delay(self, failures: int, rng: random.Random | None = None) -> int:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, failures - 1))
        return max(1, round(ceiling * (rng or random).uniform(0.5, 1.0)))

    def next_delay(self, failures: int, elapsed_seconds: float, rng: random.Random | None = None) -> int | None:
        """Seconds to wait before the next attempt, or None when the window is spent (the delivery is dead)."""
        if elapsed_seconds >= self.window_seconds:
            return None
        return self.delay(failures, rng)

    @classmethod
    def parse(cls, text: str) -> RetryPolicy:
        """`base,cap,window` in seconds (the local stack's short schedule); empty for the default."""
        if not text:
            return cls()
        base, cap, window = (int(part) for part in text.split(","))
        return cls(base, cap, window)


# RFC 1918, loopback, link-local, unique local, and the rest no public receiver lives on.
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def address_refused(address: str) -> bool:
    """Whether a resolved IP is private, loopback, link-local or otherwise not a public host."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _REFUSED_NETWORKS if network.version == ip.version)


def check_url(url: str, *, allow_insecure: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable target URL, or WebhookUrlRefused. HTTPS only unless `allow_insecure`
    (the local stack). No credentials in the URL: they would be sent to whoever the host resolves to."""
    parts = urlsplit(url)
    allowed = {"https", "http"} if allow_insecure else {"https"}
    if parts.scheme not in allowed:
        raise WebhookUrlRefused("Webhook URLs must use https")
    if not parts.hostname or parts.username or parts.password:
        raise WebhookUrlRefused("A webhook URL needs a host and no credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookUrlRefused("The URL's port is not a number") from exc
    return parts.scheme, parts.hostname, port


def check_resolved(addresses: Iterable[str], *, allow_private: bool) -> list[str]:
    """The resolved addresses if every one is public (or private ones are allowed); else WebhookUrlRefused."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise WebhookUrlRefused("The webhook host does not resolve")
    if not allow_private and any(address_refused(a) for a in found):
        raise WebhookUrlRefused("The webhook host resolves to a private, loopback or link-local address")
    return found
