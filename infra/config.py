"""Deployment settings: CDK context (`-c key=value` or cdk.json) and the CDK CLI's environment.

Nothing here calls AWS: the account and region come from context or from CDK_DEFAULT_ACCOUNT and
CDK_DEFAULT_REGION, which the CLI sets when it finds them in the local AWS configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_logs as logs

from samtykke.resources import ADEQUACY_REGIONS, DEFAULT_REGION, EU_REGIONS

ContextGetter = Callable[[str], Any]

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")
# Spelled as Lambda's ApplicationLogLevel spells them; Python's logging accepts "WARN" too.
_LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


class ConfigError(ValueError):
    """A context value that the app cannot deploy with."""


class RegionNotAllowedError(ConfigError):
    def __init__(self, region: str, source: str | None = None) -> None:
        origin = f" (from {source})" if source else ""
        adequacy = ADEQUACY_REGIONS.get(region)
        why = (
            f"{region!r} is outside the EU/EEA ({adequacy}); deploying there needs `-c allow_adequacy_regions=true`"
            if adequacy
            else f"refusing to synthesize for {region!r}"
        )
        super().__init__(
            f"samtykke deploys only to EU regions (data residency): {why}{origin}. "
            f"Allowed regions: {', '.join(sorted(EU_REGIONS))}, e.g. `cdk deploy -c region={DEFAULT_REGION}`; "
            f"with -c allow_adequacy_regions=true also {', '.join(sorted(ADEQUACY_REGIONS))}."
        )


def ensure_eu_region(region: str, source: str | None = None, *, allow_adequacy: bool = False) -> str:
    """The region, if it is in an EU/EEA member state, or in an adequacy country and `allow_adequacy` says so."""
    if region in EU_REGIONS or (allow_adequacy and region in ADEQUACY_REGIONS):
        return region
    raise RegionNotAllowedError(region, source)


# The CDK CLI sets CDK_DEFAULT_REGION from the AWS profile, and to us-east-1 when no region is configured
# at all; so without `-c region=...` on such a machine, synth stops here rather than guess a region.
_CLI_REGION_SOURCE = "CDK_DEFAULT_REGION: the AWS profile's region, or the CDK CLI's us-east-1 fallback"


def stack_id(region: str) -> str:
    """The stack's name: one stack per region, so the region is part of it."""
    return f"samtykke-{region}"


@dataclass(frozen=True)
class Throttle:
    rate_limit: float  # steady-state requests per second
    burst_limit: int


@dataclass(frozen=True)
class CustomDomain:
    domain_name: str
    certificate_arn: str  # an ACM certificate in the stack's own region


@dataclass(frozen=True)
class DeploymentConfig:
    regions: tuple[str, ...]
    account: str | None
    # London and Zurich (adequacy decisions, outside the EEA) need `-c allow_adequacy_regions=true`.
    allow_adequacy_regions: bool
    sender_email: str
    # The SES identity that sends: the sender's domain unless `sesIdentity` says otherwise.
    ses_identity: str
    # Whether the stack creates that identity (with Easy DKIM) or it is managed elsewhere.
    create_ses_identity: bool
    custom_domain: CustomDomain | None
    evidence_retention_days: int
    log_retention: logs.RetentionDays
    log_level: str
    alarm_email: str | None
    reserved_concurrency: Mapping[str, int]
    api_throttle: Throttle
    public_route_throttle: Throttle

    @classmethod
    def from_context(cls, get: ContextGetter, environ: Mapping[str, str]) -> DeploymentConfig:
        sender_email = _text(get, "senderEmail") or "no-reply@example.com"
        sender_match = _EMAIL.match(sender_email)
        if sender_match is None:
            raise ConfigError(f"senderEmail {sender_email!r} is not an email address")
        allow_adequacy = _bool(get, "allow_adequacy_regions", default=False)
        return cls(
            regions=_regions(get, environ, allow_adequacy=allow_adequacy),
            allow_adequacy_regions=allow_adequacy,
            account=_account(get, environ),
            sender_email=sender_email,
            ses_identity=_text(get, "sesIdentity") or sender_match.group(1),
            create_ses_identity=_bool(get, "createSesIdentity", default=True),
            custom_domain=_custom_domain(get),
            evidence_retention_days=_int(get, "evidenceRetentionDays", default=365, minimum=1),
            log_retention=_log_retention(get),
            log_level=_choice(get, "logLevel", _LOG_LEVELS, default="INFO"),
            alarm_email=_text(get, "alarmEmail"),
            reserved_concurrency=_reserved_concurrency(get),
            api_throttle=Throttle(
                rate_limit=_int(get, "apiRateLimit", default=100, minimum=1),
                burst_limit=_int(get, "apiBurstLimit", default=200, minimum=1),
            ),
            public_route_throttle=Throttle(
                rate_limit=_int(get, "publicRateLimit", default=25, minimum=1),
                burst_limit=_int(get, "publicBurstLimit", default=50, minimum=1),
            ),
        )


def _text(get: ContextGetter, key: str) -> str | None:
    value = get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _regions(get: ContextGetter, environ: Mapping[str, str], *, allow_adequacy: bool) -> tuple[str, ...]:
    """`-c regions=a,b` (one stack each), else `-c region=a`, else the CLI's region, else DEFAULT_REGION."""
    raw, source = _text(get, "regions") or _text(get, "region"), "context"
    if raw is None and environ.get("CDK_DEFAULT_REGION"):
        raw, source = environ["CDK_DEFAULT_REGION"], _CLI_REGION_SOURCE
    regions = tuple(dict.fromkeys(part.strip() for part in (raw or DEFAULT_REGION).split(",") if part.strip()))
    if not regions:
        raise ConfigError(f"no region given: pass e.g. `-c region={DEFAULT_REGION}`")
    return tuple(ensure_eu_region(region, source, allow_adequacy=allow_adequacy) for region in regions)


def _account(get: ContextGetter, environ: Mapping[str, str]) -> str | None:
    account = _text(get, "account") or environ.get("CDK_DEFAULT_ACCOUNT")
    if account is not None and not _ACCOUNT_ID.match(account):
        raise ConfigError(f"account {account!r} is not a 12-digit AWS account id")
    return account


def _bool(get: ContextGetter, key: str, *, default: bool) -> bool:
    value = get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(f"{key} must be true or false, not {value!r}")
    return text == "true"


def _int(get: ContextGetter, key: str, *, default: int, minimum: int) -> int:
    value = get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, not {number}")
    return number


def _choice(get: ContextGetter, key: str, choices: tuple[str, ...], *, default: str) -> str:
    value = (_text(get, key) or default).upper()
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _log_retention(get: ContextGetter) -> logs.RetentionDays:
    name = (_text(get, "logRetention") or "THREE_MONTHS").upper()
    try:
        return logs.RetentionDays[name]
    except KeyError:
        names = ", ".join(member.name for member in logs.RetentionDays)
        raise ConfigError(f"logRetention must be one of {names}, not {name!r}") from None


def _custom_domain(get: ContextGetter) -> CustomDomain | None:
    domain_name, certificate_arn = _text(get, "domainName"), _text(get, "certificateArn")
    if domain_name is None and certificate_arn is None:
        return None
    if domain_name is None or certificate_arn is None:
        raise ConfigError("a custom domain needs both domainName and certificateArn")
    return CustomDomain(domain_name=domain_name, certificate_arn=certificate_arn)


def _reserved_concurrency(get: ContextGetter) -> Mapping[str, int]:
    """`reservedConcurrency`: a JSON object of function name to reserved concurrent executions."""
    value = get("reservedConcurrency")
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(f"reservedConcurrency must be a JSON object, not {value!r}") from None
    if not isinstance(value, dict) or not all(isinstance(n, int) and n >= 0 for n in value.values()):
        raise ConfigError('reservedConcurrency must map function names to counts, e.g. {"consent_capture": 50}')
    return dict(value)
