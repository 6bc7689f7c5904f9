"""The HTTP API, built from ROUTES: admin routes behind the Lambda authorizer, public routes open but throttled."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import CfnResource, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import CustomDomain, Throttle
from infra.constructs.function import pascal_case
from infra.constructs.logs import LogStore
from infra.nag import acknowledge
from samtykke.resources import RouteSpec

# Authorizer decisions are not cached: a revoked API key, a logged-out session or a changed role stops working
# with the very next request. The authorizer's own check is one GetItem (the key's or the user's item).
AUTHORIZER_CACHE_TTL = Duration.seconds(0)

# One JSON object per request, with the ids that tie it to the function's own logs and traces.
_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """JSON access logs into a log group (an interface in CDK, not a struct, hence a class)."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return apigwv2.LogGroupLogDestination(self._log_group)

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT))


# Routes API Gateway does not authorize, and why (each is throttled per route more strictly than the stage default).
_AUTHORIZED_IN_FUNCTION = {
    "public": "Public by contract: web forms, confirmation and unsubscribe links, signature-verified provider "
    "webhooks and the OpenAPI document. Throttled per route more strictly than the stage default.",
    "operator": "The operator API: its function accepts only an operator key (stored hashed outside every "
    "tenant's partition), so no tenant credential may pass the tenant authorizer to it. Throttled per route.",
}


def route_key(route: RouteSpec) -> str:
    return f"{route.method} {route.path}"


class HttpApi(Construct):
    """Create it before the functions (they need `public_base_url`), then `add_routes` once they exist."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_store: LogStore,
        default_throttle: Throttle,
        public_route_throttle: Throttle,
        custom_domain: CustomDomain | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._public_route_throttle = public_route_throttle
        self.http_api = apigwv2.HttpApi(
            self,
            "Api",
            description="samtykke: public consent endpoints, provider webhooks and the admin API",
            create_default_stage=False,
            # With a custom domain it is the only way in, so signed webhook URLs have one spelling.
            disable_execute_api_endpoint=custom_domain is not None,
        )
        self.domain_name = (
            apigwv2.DomainName(
                self,
                "Domain",
                domain_name=custom_domain.domain_name,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", custom_domain.certificate_arn),
                security_policy=apigwv2.SecurityPolicy.TLS_1_2,
            )
            if custom_domain
            else None
        )
        self.access_logs = log_store.log_group(self, "AccessLogs")
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=default_throttle.rate_limit, burst_limit=default_throttle.burst_limit
            ),
            access_log_settings=_AccessLogSettings(self.access_logs),
            domain_mapping=apigwv2.DomainMappingOptions(domain_name=self.domain_name) if self.domain_name else None,
        )
        # Integrated functions could read the URL off each request; every function gets it from the
        # environment instead. That is no dependency cycle: the URL refers only to the Api resource, which
        # depends on nothing, while routes and integrations depend on the functions.
        self.public_base_url = f"https://{custom_domain.domain_name}" if custom_domain else self.http_api.api_endpoint

    def add_routes(
        self,
        routes: Sequence[RouteSpec],
        functions: Mapping[str, lambda_.IFunction],
        *,
        authorizer_function: lambda_.IFunction | None,
    ) -> None:
        authorizer = (
            authorizers.HttpLambdaAuthorizer(
                "AdminAuthorizer",
                authorizer_function,
                response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
                identity_source=["$request.header.Authorization"],
                results_cache_ttl=AUTHORIZER_CACHE_TTL,
            )
            if authorizer_function
            else None
        )
        integrations_by_function: dict[str, integrations.HttpLambdaIntegration] = {}
        public_route_settings: dict[str, dict[str, float]] = {}
        for route in routes:
            if route.function not in integrations_by_function:
                integrations_by_function[route.function] = integrations.HttpLambdaIntegration(
                    f"{pascal_case(route.function)}Integration", functions[route.function]
                )
            (http_route,) = self.http_api.add_routes(
                path=route.path,
                methods=[apigwv2.HttpMethod[route.method]],
                integration=integrations_by_function[route.function],
                authorizer=authorizer if route.auth == "admin" else None,
            )
            if route.auth in _AUTHORIZED_IN_FUNCTION:
                acknowledge(http_route, "AwsSolutions-APIG4", _AUTHORIZED_IN_FUNCTION[route.auth])
                public_route_settings[route_key(route)] = {
                    "ThrottlingRateLimit": self._public_route_throttle.rate_limit,
                    "ThrottlingBurstLimit": self._public_route_throttle.burst_limit,
                }
                # API Gateway rejects route settings for a route key that does not exist yet.
                self.stage.node.add_dependency(http_route)
        if public_route_settings:
            stage_resource = self.stage.node.default_child
            assert isinstance(stage_resource, CfnResource)
            stage_resource.add_property_override("RouteSettings", public_route_settings)
