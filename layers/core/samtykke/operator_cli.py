"""`samtykke operator`: the deployment operator's keys, and the operator API.

    samtykke operator key create --name ops@example.com     # with the deployment's AWS credentials; shown once
    samtykke operator key list
    samtykke operator key revoke opk_…
    samtykke operator plan acme enterprise                  # over HTTP, with SAMTYKKE_OPERATOR_KEY or --operator-key

`key` writes to DynamoDB directly, like `samtykke tenant create`: an operator key is made only by whoever holds the
deployment's AWS credentials, never over HTTP. `plan` calls `PUT /v1/operator/tenants/{tenant}/plan`, which takes
only an operator key (no tenant credential reaches it) and audits the change in the tenant's log, naming the key's
holder. Where the stack is: as for `samtykke tenant` (`--local`, `--stack`, `--region`, `--api-url`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from samtykke.staff_cli import CliError, Http, _direct_services, _guarded, _print, _where_arguments, resolve_target

PLANS = ("basic", "plus", "enterprise")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    operator = subparsers.add_parser("operator", help="the deployment operator's keys and the operator API")
    actions = operator.add_subparsers(dest="action", required=True, metavar="ACTION")
    key = actions.add_parser("key", help="operator keys (direct to AWS, with the deployment's credentials)")
    key_actions = key.add_subparsers(dest="key_action", required=True, metavar="KEY_ACTION")
    create = key_actions.add_parser("create", help="make an operator key; the secret is shown once")
    create.add_argument("--name", required=True, help="who holds it: the audit log's actor for what it does")
    _where_arguments(create)
    _where_arguments(key_actions.add_parser("list", help="list operator keys (never their secrets)"))
    revoke = key_actions.add_parser("revoke", help="revoke an operator key by its id")
    revoke.add_argument("key_id")
    _where_arguments(revoke)
    plan = actions.add_parser("plan", help="set a tenant's plan through the operator API")
    plan.add_argument("tenant_id")
    plan.add_argument("plan", choices=PLANS)
    plan.add_argument("--operator-key", default=None, help="an operator key (default: SAMTYKKE_OPERATOR_KEY)")
    _where_arguments(plan)
    operator.set_defaults(run=run_operator)


@_guarded
def run_operator(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    if args.action == "plan":
        secret = args.operator_key or os.environ.get("SAMTYKKE_OPERATOR_KEY")
        if not secret:
            raise CliError("no operator key: pass --operator-key or set SAMTYKKE_OPERATOR_KEY")
        path = f"/v1/operator/tenants/{args.tenant_id}/plan"
        _print({"tenant_id": args.tenant_id, **Http(target.api_url, secret).request("PUT", path, {"plan": args.plan})})
        return 0
    from samtykke.domain.errors import SamtykkeError
    from samtykke.services import operators

    svc = _direct_services(target)
    try:
        if args.key_action == "create":
            key_id, secret = operators.issue_operator_key(svc, args.name)
            _print({"key_id": key_id, "name": args.name, "operator_key": secret})
        elif args.key_action == "revoke":
            _print(operators.revoke_operator_key(svc, args.key_id))
        else:
            _print(operators.list_operator_keys(svc))
    except SamtykkeError as error:
        raise CliError(f"{error.code}: {error.message}") from error
    return 0
