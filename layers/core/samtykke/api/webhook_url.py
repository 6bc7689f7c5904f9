"""The public URL a provider called, rebuilt from an API Gateway HTTP API event, for signature checks.

Twilio signs the exact URL it requested, so the one we verify against must be that URL, byte for byte:
1. **The route path** is `rawPath` without what API Gateway may put in front of it: the stage segment
   (`/{stage}`, for a stage other than `$default`) and a custom domain's base path mapping (the mapping key).
   Either is removed only where it really is a prefix, so both the behaviour AWS documents (stage in
   `rawPath`) and the one seen behind mappings (mapping key in `rawPath`) give the same route path.
2. **Through the configured public URL**: when `SAMTYKKE_PUBLIC_BASE_URL` has the same host (and port) as the
   request's `Host` header, the URL is that base URL (its scheme, host and base path, e.g.
   `https://sms.example.com/hooks` for a custom domain mapped under `hooks`) followed by the route path. This is
   the URL the operator gives Twilio, and it is the only spelling a custom domain has, since the CDK app turns
   the default endpoint off when a custom domain is set.
3. **Otherwise the API's own endpoint**: `https://{Host}` (the scheme from `X-Forwarded-Proto`, which API
   Gateway sets), then `/{stage}` for a named stage, then the route path.
4. The raw query string, if any, follows as Twilio sent it.
The port stays as the `Host` header gives it; the Twilio check also tries the URL with and without the
default port, as Twilio's own validator does.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

DEFAULT_STAGE = "$default"


def _strip_prefix(path: str, prefix: str) -> str:
    prefix = prefix.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :] or "/"
    return path


def route_path(raw_path: str, stage: str | None, base_path: str = "") -> str:
    """The path of the route itself: `rawPath` without a stage segment or a base path mapping in front."""
    path = raw_path
    if stage and stage != DEFAULT_STAGE:
        path = _strip_prefix(path, f"/{stage}")
    return _strip_prefix(path, base_path)


def called_url(event: APIGatewayProxyEventV2, public_base_url: str) -> str:
    """The full URL the caller requested (see the module's rules)."""
    context = event.request_context
    host = event.headers.get("host") or context.domain_name or ""
    stage = context.stage
    query = f"?{event.raw_query_string}" if event.raw_query_string else ""
    configured = urlsplit(public_base_url) if public_base_url else None
    if configured is not None and configured.netloc.lower() == host.lower():
        base_path = configured.path.rstrip("/")
        path = route_path(event.raw_path, stage, base_path)
        return f"{configured.scheme}://{configured.netloc}{base_path}{path}{query}"
    scheme = (event.headers.get("x-forwarded-proto") or "https").split(",")[0].strip().lower() or "https"
    stage_prefix = f"/{stage}" if stage and stage != DEFAULT_STAGE else ""
    return f"{scheme}://{host}{stage_prefix}{route_path(event.raw_path, stage)}{query}"
