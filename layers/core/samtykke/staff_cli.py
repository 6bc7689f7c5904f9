"""`samtykke tenant|user|mfa|api-key`: bootstrap tenants and manage staff, MFA and API keys.

    samtykke tenant create acme --name "Acme A/S" --plan plus --owner-email owner@acme.example --owner-password-stdin
    samtykke tenant backfill-counters acme --since 2026-09-01
    samtykke user create --email eva@acme.example --role editor --password-stdin
    samtykke user invite --email ole@acme.example --role viewer
    samtykke user list
    samtykke mfa enrol --email eva@acme.example --tenant acme --password-stdin
    samtykke api-key create --role viewer --label "CRM sync"
    samtykke api-key revoke key_…

Where: `--local [PATH]` (the running local stack's `.samtykke/local.json`: `api_url`, `aws_endpoint_url`, the table
and KMS key), or `--stack NAME` / `--region` (a deployed stack, `samtykke-<region>` by default, read from its
CloudFormation outputs `TableName`, `FieldKeyArn` and `ApiUrl`). Without either, the local stack's file when it
exists. `tenant create` writes to DynamoDB and KMS directly (the first owner and key have nobody to ask), and so do
the operator's `tenant plan` and `tenant backfill-counters`; every other command goes over HTTP with `--api-key` /
`--token` (else SAMTYKKE_API_KEY, else the local demo key). Only the standard library is imported until a command
runs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from samtykke.services.context import Services

LOCAL_JSON = Path(".samtykke") / "local.json"
ROLES = ("owner", "admin", "editor", "author", "viewer")
GRANTS = ("sensitive:read",)


class CliError(Exception):
    pass


# --- arguments -----------------------------------------------------------------------------------------------


def _where_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("where")
    where.add_argument(
        "--local",
        nargs="?",
        const=str(LOCAL_JSON),
        default=None,
        metavar="PATH",
        help=f"the local stack (default file: {LOCAL_JSON})",
    )
    where.add_argument("--stack", default=None, help="a deployed stack's name (default: samtykke-<region>)")
    where.add_argument("--region", default=None, help="the deployed stack's region")
    where.add_argument("--api-url", default=None, help="the API's base URL (default: from the stack)")


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    _where_arguments(parser)
    who = parser.add_argument_group("who")
    who.add_argument("--api-key", default=None, help="a bearer API key (default: SAMTYKKE_API_KEY, local demo key)")
    who.add_argument("--token", default=None, help="a staff session token instead of an API key")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    tenant = subparsers.add_parser("tenant", help="create a tenant with its first owner and key (direct to AWS)")
    tenant_actions = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tenant_actions.add_parser("create", help="create a tenant")
    create.add_argument("tenant_id")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", choices=("basic", "plus", "enterprise"), default="basic")
    create.add_argument("--country", default="DK")
    create.add_argument("--locale", default="da")
    create.add_argument("--owner-email", default=None, help="also create this owner user")
    create.add_argument("--owner-password-stdin", action="store_true", help="read the owner's password from stdin")
    _target_arguments(create)
    plan = tenant_actions.add_parser(
        "plan", help="set a tenant's plan: the operator's decision, with the deployment's AWS credentials"
    )
    plan.add_argument("tenant_id")
    plan.add_argument("plan", choices=("basic", "plus", "enterprise"))
    plan.add_argument("--operator", default=os.environ.get("USER", "operator"), help="who decides, for the audit log")
    _target_arguments(plan)
    backfill = tenant_actions.add_parser(
        "backfill-counters",
        help="recount the dashboard's daily counters from the consent log (closed days; safe to re-run under traffic)",
    )
    backfill.add_argument("tenant_id")
    backfill.add_argument(
        "--since", type=date.fromisoformat, default=None, help="the first day to recount (default: the dashboard's 90)"
    )
    backfill.add_argument(
        "--operator", default=os.environ.get("USER", "operator"), help="who runs it, for the audit log"
    )
    _target_arguments(backfill)
    tenant.set_defaults(run=run_tenant)

    user = subparsers.add_parser("user", help="staff users: create, invite, list (over the admin API)")
    user_actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, helptext in (("create", "create a user with a password"), ("invite", "email an invitation")):
        p = user_actions.add_parser(action, help=helptext)
        p.add_argument("--email", required=True)
        p.add_argument("--role", choices=ROLES, required=True)
        p.add_argument("--grant", action="append", choices=GRANTS, default=[], help="e.g. sensitive:read")
        if action == "create":
            p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        _target_arguments(p)
    _target_arguments(user_actions.add_parser("list", help="list the tenant's staff"))
    user.set_defaults(run=run_user)

    mfa = subparsers.add_parser("mfa", help="enrol a TOTP authenticator for a staff user")
    mfa_actions = mfa.add_subparsers(dest="action", required=True, metavar="ACTION")
    enrol = mfa_actions.add_parser("enrol", help="log in, show the otpauth URI and QR code, verify a first code")
    enrol.add_argument("--email", required=True)
    enrol.add_argument("--tenant", default=None, help="the tenant id (needed if the email is in several)")
    enrol.add_argument("--password-stdin", action="store_true", help="read the password, then the code, from stdin")
    _target_arguments(enrol)
    mfa.set_defaults(run=run_mfa)

    keys = subparsers.add_parser("api-key", help="API keys for server-to-server use (over the admin API)")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    key_create = key_actions.add_parser("create", help="create a key; the secret is shown once")
    key_create.add_argument("--role", choices=ROLES, required=True)
    key_create.add_argument("--label", required=True)
    key_create.add_argument("--grant", action="append", choices=GRANTS, default=[])
    _target_arguments(key_create)
    revoke = key_actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    _target_arguments(revoke)
    _target_arguments(key_actions.add_parser("list", help="list the tenant's keys"))
    keys.set_defaults(run=run_api_key)


# --- where the stack is --------------------------------------------------------------------------------------


@dataclass
class Target:
    api_url: str
    table: str | None = None
    kms_key: str | None = None
    region: str | None = None
    aws_endpoint_url: str | None = None
    sender_email: str | None = None
    local_key: str | None = None


def resolve_target(args: argparse.Namespace) -> Target:
    local_path = args.local or (str(LOCAL_JSON) if not args.stack and LOCAL_JSON.exists() else None)
    if local_path:
        try:
            info = json.loads(Path(local_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {local_path}: is `samtykke local` running?") from exc
        resources = info.get("resources", {})
        return Target(
            api_url=args.api_url or info["api_url"],
            table=resources.get("table"),
            kms_key=resources.get("kms_key_arn"),
            region=info.get("region"),
            aws_endpoint_url=info.get("aws_endpoint_url"),
            sender_email=resources.get("sender_email"),
            local_key=info.get("admin_api_key"),
        )
    return _deployed(args)


def _deployed(args: argparse.Namespace) -> Target:
    import boto3

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-north-1"
    stack = args.stack or f"samtykke-{region}"  # infra.config.stack_id
    try:
        described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)
    except Exception as exc:  # credentials, a missing stack: say which
        raise CliError(f"cannot read stack {stack} in {region}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}
    if "TableName" not in outputs or "ApiUrl" not in outputs:
        raise CliError(f"stack {stack} has no TableName/ApiUrl outputs: is it a samtykke stack?")
    return Target(
        api_url=args.api_url or outputs["ApiUrl"],
        table=outputs["TableName"],
        kms_key=outputs.get("FieldKeyArn") or outputs.get("FieldKeyId"),
        region=region,
    )


# --- HTTP ----------------------------------------------------------------------------------------------------


class Http:
    def __init__(self, api_url: str, bearer: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self.bearer = bearer

    def request(self, method: str, path: str, body: Any = None, *, bearer: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json", "user-agent": "samtykke-cli"}
        token = bearer or self.bearer
        if token:
            headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.api_url + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http(s) URL from config)
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            try:
                code = json.loads(detail)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = detail[:200]
            raise CliError(f"{method} {path}: {error.code} {code}") from error
        except urllib.error.URLError as error:
            raise CliError(f"cannot reach {self.api_url}: {error.reason}") from error
        return json.loads(text) if text else None


def _http(args: argparse.Namespace, target: Target) -> Http:
    bearer = args.token or args.api_key or os.environ.get("SAMTYKKE_API_KEY") or target.local_key
    if not bearer:
        raise CliError("no credential: pass --api-key or --token, or set SAMTYKKE_API_KEY")
    return Http(target.api_url, bearer)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _read_line(prompt: str, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        print(prompt, end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            raise CliError(f"expected {prompt.strip(': ')} on stdin")
        return line.rstrip("\n")
    return getpass.getpass(prompt)


def _guarded(run: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return int(run(args))
        except CliError as error:
            print(f"samtykke: {error}", file=sys.stderr)
            return 2

    return wrapped


# --- commands ------------------------------------------------------------------------------------------------


@_guarded
def run_tenant(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    if not target.table or not target.kms_key:
        raise CliError("the table and KMS key are unknown: use --local or --stack")
    if args.action == "plan":
        _print(set_plan_direct(target, args.tenant_id, args.plan, operator=args.operator))
        return 0
    if args.action == "backfill-counters":
        _print(backfill_counters_direct(target, args.tenant_id, since=args.since, operator=args.operator))
        return 0
    password = _read_line("Owner password: ", args.owner_password_stdin) if args.owner_email else None
    result = create_tenant_direct(
        target,
        args.tenant_id,
        args.name,
        plan=args.plan,
        country=args.country,
        locale=args.locale,
        owner_email=args.owner_email,
        owner_password=password,
    )
    _print(result)
    return 0


def _direct_services(target: Target) -> Services:
    """Services straight on the deployment's table and KMS key, with the operator's own AWS credentials."""
    if target.aws_endpoint_url:  # the local stack's moto: every client goes there, with its fake credentials
        os.environ["AWS_ENDPOINT_URL"] = target.aws_endpoint_url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    if target.region:
        os.environ.setdefault("AWS_DEFAULT_REGION", target.region)
    from samtykke.adapters import aws
    from samtykke.adapters.crypto import KmsKeyring
    from samtykke.adapters.mailer import SesMailer
    from samtykke.adapters.repository import ConsentRepository
    from samtykke.services.context import Services
    from samtykke.settings import Settings

    aws.reset_clients()
    if not target.table or not target.kms_key:
        raise CliError("the table and KMS key are unknown: use --local or --stack")
    return Services(
        settings=Settings(
            table_name=target.table,
            kms_key_id=target.kms_key,
            sender_email=target.sender_email or "no-reply@example.com",
        ),
        repo=ConsentRepository(target.table),
        keyring=KmsKeyring(target.kms_key),
        mailer=SesMailer(),
    )


def set_plan_direct(target: Target, tenant_id: str, plan: str, *, operator: str) -> dict[str, Any]:
    """The operator sets a tenant's plan; the tenant's audit log names the operator (`operator.plan_set`)."""
    from samtykke.domain.errors import SamtykkeError
    from samtykke.models.tenant import Plan
    from samtykke.services.audit import AuditActor
    from samtykke.services.staff import set_plan

    svc = _direct_services(target)
    try:
        return {"tenant_id": tenant_id, **set_plan(svc, AuditActor(tenant_id, "operator", operator), Plan(plan))}
    except SamtykkeError as error:
        raise CliError(f"{error.code}: {error.message}") from error


def backfill_counters_direct(target: Target, tenant_id: str, *, since: date | None, operator: str) -> dict[str, Any]:
    """Recounts the tenant's dashboard counters (`services/dashboard_counters.py`); audited with the operator."""
    from samtykke.console.views import DASHBOARD_DAYS
    from samtykke.domain.errors import SamtykkeError
    from samtykke.services.audit import AuditActor
    from samtykke.services.dashboard_counters import backfill

    svc = _direct_services(target)
    first = since or svc.clock().date() - timedelta(days=DASHBOARD_DAYS - 1)
    try:
        return backfill(svc, AuditActor(tenant_id, "operator", operator), since=first).as_dict()
    except SamtykkeError as error:
        raise CliError(f"{error.code}: {error.message}") from error


def create_tenant_direct(
    target: Target,
    tenant_id: str,
    name: str,
    *,
    plan: str,
    country: str,
    locale: str,
    owner_email: str | None,
    owner_password: str | None,
) -> dict[str, Any]:
    """Writes the tenant, an owner API key and (optionally) an owner user straight to DynamoDB and KMS."""
    from samtykke.domain.access import Role
    from samtykke.domain.errors import SamtykkeError
    from samtykke.models.staff import UserCreate
    from samtykke.models.tenant import Plan
    from samtykke.services.api_keys import issue_api_key
    from samtykke.services.staff import create_user
    from samtykke.services.tenants import create_tenant

    svc = _direct_services(target)
    try:
        if owner_email and owner_password is None:
            raise CliError("give the owner a password (--owner-password-stdin), or invite them later over HTTP")
        if owner_email and owner_password is not None:
            UserCreate(email=owner_email, role=Role.OWNER, password=owner_password)  # validate before writing
            from samtykke.domain.passwords import check_policy

            check_policy(owner_password, email=owner_email, tenant_names=(name, tenant_id))
        create_tenant(svc, tenant_id, name, plan=Plan(plan), country=country, default_locale=locale)
        key_id, secret = issue_api_key(svc, tenant_id, Role.OWNER, "owner key (samtykke tenant create)")
        result: dict[str, Any] = {"tenant_id": tenant_id, "plan": plan, "api_key": secret, "key_id": key_id}
        if owner_email and owner_password is not None:
            user = create_user(
                svc,
                tenant_id,
                UserCreate(email=owner_email, role=Role.OWNER, password=owner_password),
                actor=None,
                ip=None,
                public_base_url=target.api_url,
            )
            result["owner_user_id"] = user.user_id
        return result
    except SamtykkeError as error:
        raise CliError(f"{error.code}: {error.message}") from error


@_guarded
def run_user(args: argparse.Namespace) -> int:
    http = _http(args, resolve_target(args))
    if args.action == "list":
        _print(http.request("GET", "/v1/admin/users"))
        return 0
    body: dict[str, Any] = {"email": args.email, "role": args.role, "grants": args.grant}
    if args.action == "create":
        body["password"] = _read_line("Password: ", args.password_stdin)
    _print(http.request("POST", "/v1/admin/users", body))
    return 0


@_guarded
def run_mfa(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    http = Http(target.api_url, None)
    password = _read_line("Password: ", args.password_stdin)
    login: dict[str, Any] = {"email": args.email, "password": password}
    if args.tenant:
        login["tenant_id"] = args.tenant
    session = http.request("POST", "/v1/auth/login", login)
    token = session["token"]
    enrolment = http.request("POST", "/v1/admin/me/mfa", bearer=token)
    print(f"Scan this with an authenticator app (or type the secret {enrolment['secret']}):", flush=True)
    print(enrolment["otpauth_uri"], flush=True)
    print(terminal_qr(enrolment["otpauth_uri"]), flush=True)
    code = _read_line("Code from the authenticator: ", args.password_stdin).strip()
    activated = http.request("POST", "/v1/admin/me/mfa/verify", {"code": code}, bearer=token)
    print("MFA is on. Recovery codes (each works once; store them safely, they are not shown again):")
    for recovery in activated["recovery_codes"]:
        print(f"  {recovery}")
    return 0


def terminal_qr(uri: str) -> str:
    """The QR code as text (half-block characters), for a terminal."""
    import io

    import segno

    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    return out.getvalue()


@_guarded
def run_api_key(args: argparse.Namespace) -> int:
    http = _http(args, resolve_target(args))
    if args.action == "create":
        _print(
            http.request("POST", "/v1/admin/api-keys", {"role": args.role, "label": args.label, "grants": args.grant})
        )
    elif args.action == "revoke":
        _print(http.request("DELETE", f"/v1/admin/api-keys/{args.key_id}"))
    else:
        _print(http.request("GET", "/v1/admin/api-keys"))
    return 0
