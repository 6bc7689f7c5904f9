"""Verifying SMS providers' webhook signatures. Pure code: no I/O, and no provider SDK at runtime.

Twilio (`X-Twilio-Signature`): Base64 of HMAC-SHA1, keyed with the account's auth token, over the full URL
Twilio called followed by every POST parameter's name and value, in name order (a repeated name contributes
each of its values, sorted). Twilio's own `RequestValidator` checks the URL with and without the default port,
so this does too. The `X-Twilio-Webhooks-Signature-Settings` header may name HMAC_SHA256 instead.

Vonage SMS API signed webhooks (`sig`): the parameters other than `sig`, sorted by name, each written as
`&name=value` with any `&` or `=` in a value replaced by `_`. Then
- `md5hash` (Vonage's default "MD5 hash"): hex MD5 of that string followed by the signature secret;
- `md5`, `sha1`, `sha256`, `sha512` (the dashboard's HMAC options): hex HMAC of that string, keyed with the
  signature secret.
Hex case does not matter. The signed `timestamp` (Unix seconds) must be fresh, which refuses replays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

TWILIO_ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}

# How far a Vonage `timestamp` may be behind our clock, and ahead of it (clock skew).
VONAGE_MAX_AGE_SECONDS = 300
VONAGE_MAX_SKEW_SECONDS = 60


class VonageSignatureMethod(StrEnum):
    MD5HASH = "md5hash"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


def _ports_variants(url: str) -> list[str]:
    """The URL as given, without its port, and with the scheme's default port, as Twilio's validator tries."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username or parts.password or not host:
        return [url]
    default_port = 443 if parts.scheme == "https" else 80
    without = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default_port}"))
    return list(dict.fromkeys([url, without, with_port]))


def twilio_signature(
    auth_token: str, url: str, params: Mapping[str, Sequence[str]], algorithm: str = "HMAC_SHA1"
) -> str:
    """The signature Twilio sends for a POST of `params` (name -> values) to `url`."""
    digest = TWILIO_ALGORITHMS[algorithm]
    payload = url + "".join(name + value for name in sorted(params) for value in sorted(set(params[name])))
    mac = hmac.new(auth_token.encode(), payload.encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def twilio_algorithm(signature_settings: str | None) -> str | None:
    """The algorithm named in `X-Twilio-Webhooks-Signature-Settings` (HMAC_SHA1 if none); None if unsupported."""
    algorithm = "HMAC_SHA1"
    for part in (signature_settings or "").split(","):
        name, _, value = part.partition("=")
        if name.strip().lower() == "algorithm" and value.strip():
            algorithm = value.strip().upper()
    return algorithm if algorithm in TWILIO_ALGORITHMS else None


def verify_twilio(
    auth_token: str,
    url: str,
    params: Mapping[str, Sequence[str]],
    signature: str,
    *,
    signature_settings: str | None = None,
) -> bool:
    algorithm = twilio_algorithm(signature_settings)
    if not signature or algorithm is None:
        return False
    return any(
        hmac.compare_digest(twilio_signature(auth_token, candidate, params, algorithm).encode(), signature.encode())
        for candidate in _ports_variants(url)
    )


def vonage_signature(secret: str, params: Mapping[str, str], method: VonageSignatureMethod) -> str:
    """Vonage's `sig` over `params` (without `sig`), in lower-case hex."""
    payload = "".join(
        f"&{name}={params[name].replace('&', '_').replace('=', '_')}" for name in sorted(params) if name != "sig"
    ).encode()
    if method is VonageSignatureMethod.MD5HASH:
        return hashlib.md5(payload + secret.encode(), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode(), payload, method.value).hexdigest()


def verify_vonage(secret: str, params: Mapping[str, str], method: VonageSignatureMethod) -> bool:
    signature = params.get("sig", "")
    if not signature:
        return False
    expected = vonage_signature(secret, params, method)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def vonage_timestamp_fresh(timestamp: str | None, now: float) -> bool:
    """Whether a signed Vonage `timestamp` is recent: at most 5 minutes old and at most a minute in the future."""
    try:
        signed_at = int(str(timestamp).strip())
    except ValueError:
        return False
    return -VONAGE_MAX_SKEW_SECONDS <= now - signed_at <= VONAGE_MAX_AGE_SECONDS
