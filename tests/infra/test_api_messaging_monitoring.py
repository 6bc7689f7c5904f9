"""The HTTP API from the deployed routes, queues and topics from their specs, SES, and the alarms that watch it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.api import route_key
from infra.specs import ResourceSpecs
from tests.infra.synthetic import SYNTHETIC_CONTEXT, SYNTHETIC_SPECS

pytestmark = pytest.mark.infra

# As deployed: ROUTES and FUNCTIONS, with admin_api's routers split off into functions of their own.
ROUTES = ResourceSpecs().deployed_routes
FUNCTIONS = ResourceSpecs().deployed_functions


def _routes(template: Template) -> dict[str, dict[str, Any]]:
    return {
        route["Properties"]["RouteKey"]: route for route in template.find_resources("AWS::ApiGatewayV2::Route").values()
    }


def _stage(template: Template) -> dict[str, Any]:
    (stage,) = template.find_resources("AWS::ApiGatewayV2::Stage").values()
    return stage


class TestHttpApi:
    def test_every_route_from_the_specs_and_nothing_else(self, real: Template) -> None:
        assert set(_routes(real)) == {route_key(route) for route in ROUTES}

    def test_the_local_outbox_is_never_routed(self, real: Template) -> None:
        assert not [key for key in _routes(real) if "/_local" in key]

    def test_admin_routes_use_the_lambda_authorizer_and_public_routes_do_not(self, real: Template) -> None:
        (authorizer_id,) = real.find_resources("AWS::ApiGatewayV2::Authorizer")
        routes = _routes(real)
        for route in ROUTES:
            props = routes[route_key(route)]["Properties"]
            if route.auth == "admin":
                assert props["AuthorizationType"] == "CUSTOM", route
                assert props["AuthorizerId"] == {"Ref": authorizer_id}, route
            else:
                assert props.get("AuthorizationType", "NONE") == "NONE", route
                assert "AuthorizerId" not in props, route

    def test_the_authorizer_is_simple_uncached_and_reads_the_authorization_header(self, real: Template) -> None:
        # Uncached: a revoked key or session stops at the next request (issue 20)
        real.has_resource_properties(
            "AWS::ApiGatewayV2::Authorizer",
            {
                "AuthorizerType": "REQUEST",
                "EnableSimpleResponses": True,
                "IdentitySource": ["$request.header.Authorization"],
                "AuthorizerResultTtlInSeconds": 0,
                "AuthorizerUri": {
                    "Fn::Join": [
                        "",
                        Match.array_with([{"Fn::GetAtt": [Match.string_like_regexp("^FunctionsAuthorizer"), "Arn"]}]),
                    ]
                },
            },
        )

    def test_throttles_every_route_and_public_routes_harder(self, real: Template) -> None:
        props = _stage(real)["Properties"]
        default = props["DefaultRouteSettings"]
        assert (default["ThrottlingRateLimit"], default["ThrottlingBurstLimit"]) == (100, 200)
        # The operator API is not behind the tenant authorizer either: it is throttled like the public routes.
        public_keys = {route_key(route) for route in ROUTES if route.auth in ("public", "operator")}
        assert set(props["RouteSettings"]) == public_keys
        for settings in props["RouteSettings"].values():
            assert settings["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
            assert settings["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]

    def test_the_stage_waits_for_the_routes_it_throttles(self, real: Template) -> None:
        routes = real.find_resources("AWS::ApiGatewayV2::Route")
        public_route_ids = {i for i, r in routes.items() if "AuthorizerId" not in r["Properties"]}
        assert public_route_ids <= set(_stage(real)["DependsOn"])

    def test_writes_json_access_logs_to_an_encrypted_log_group(self, real: Template) -> None:
        settings = _stage(real)["Properties"]["AccessLogSettings"]
        log_format = json.loads(settings["Format"])
        assert {"requestId", "routeKey", "status", "integrationError"} <= set(log_format)
        log_group = real.find_resources("AWS::Logs::LogGroup")[settings["DestinationArn"]["Fn::GetAtt"][0]]
        assert "KmsKeyId" in log_group["Properties"]

    def test_custom_domain_is_optional(self, real: Template, synthetic: Template) -> None:
        real.resource_count_is("AWS::ApiGatewayV2::DomainName", 0)
        synthetic.has_resource_properties(
            "AWS::ApiGatewayV2::DomainName",
            {
                "DomainName": SYNTHETIC_CONTEXT["domainName"],
                "DomainNameConfigurations": [
                    Match.object_like(
                        {"CertificateArn": SYNTHETIC_CONTEXT["certificateArn"], "SecurityPolicy": "TLS_1_2"}
                    )
                ],
            },
        )
        synthetic.resource_count_is("AWS::ApiGatewayV2::ApiMapping", 1)
        # With a custom domain it is the only way in.
        synthetic.has_resource_properties("AWS::ApiGatewayV2::Api", {"DisableExecuteApiEndpoint": True})


class TestMessaging:
    def test_every_topic_is_kms_encrypted_and_tls_only(self, synthetic: Template) -> None:
        topics = synthetic.find_resources("AWS::SNS::Topic")
        assert len(topics) == len(SYNTHETIC_SPECS.topics) + 1  # plus the ops alarm topic
        for logical_id, topic in topics.items():
            assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("MessagingKey"), logical_id
        tls_only = [
            policy
            for policy in synthetic.find_resources("AWS::SNS::TopicPolicy").values()
            if any(
                s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                for s in policy["Properties"]["PolicyDocument"]["Statement"]
            )
        ]
        assert len(tls_only) == len(topics)

    def test_topic_consumers_are_subscribed_with_a_dead_letter_queue(self, synthetic: Template) -> None:
        for topic in SYNTHETIC_SPECS.topics:
            if topic.consumer is None:
                continue
            synthetic.has_resource_properties(
                "AWS::SNS::Subscription",
                {
                    "Protocol": "lambda",
                    "TopicArn": {"Ref": Match.string_like_regexp(f"^Messaging{topic.logical_id}")},
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {
                            "Fn::GetAtt": [Match.string_like_regexp(f"^Messaging{topic.logical_id}Dlq"), "Arn"]
                        }
                    },
                },
            )
        lambda_subscriptions = synthetic.find_resources(
            "AWS::SNS::Subscription", {"Properties": {"Protocol": "lambda"}}
        )
        assert len(lambda_subscriptions) == len([t for t in SYNTHETIC_SPECS.topics if t.consumer])

    def test_services_may_publish_to_their_topics(self, synthetic: Template) -> None:
        for topic_prefix, service in (
            ("MessagingSesEventsTopic", "ses.amazonaws.com"),
            ("MessagingInboundSmsTopic", "sms-voice.amazonaws.com"),
            ("MessagingOpsAlarms", "cloudwatch.amazonaws.com"),
        ):
            synthetic.has_resource_properties(
                "AWS::SNS::TopicPolicy",
                {
                    "Topics": [{"Ref": Match.string_like_regexp(f"^{topic_prefix}")}],
                    "PolicyDocument": {
                        "Statement": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Effect": "Allow",
                                        "Principal": {"Service": service},
                                        "Action": "sns:Publish",
                                        "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}},
                                    }
                                )
                            ]
                        )
                    },
                },
            )

    def test_ses_configuration_set_publishes_bounces_and_complaints_to_the_ses_events_topic(
        self, real: Template, synthetic: Template
    ) -> None:
        for template in (real, synthetic):
            template.has_resource_properties(
                "AWS::SES::ConfigurationSet",
                {"ReputationOptions": {"ReputationMetricsEnabled": True}, "SendingOptions": {"SendingEnabled": True}},
            )
        for template in (real, synthetic):
            template.resource_count_is("AWS::SES::ConfigurationSetEventDestination", 1)
            template.has_resource_properties(
                "AWS::SES::ConfigurationSetEventDestination",
                {
                    "EventDestination": Match.object_like(
                        {
                            "Enabled": True,
                            "MatchingEventTypes": Match.array_with(["bounce", "complaint"]),
                            "SnsDestination": {
                                "TopicARN": {"Ref": Match.string_like_regexp("^MessagingSesEventsTopic")}
                            },
                        }
                    )
                },
            )

    def test_the_sending_identity_uses_easy_dkim(self, real: Template) -> None:
        real.has_resource_properties(
            "AWS::SES::EmailIdentity",
            {"EmailIdentity": "example.com", "ConfigurationSetAttributes": Match.object_like({})},
        )
        dkim_records = [output for output in real.find_outputs("*") if output.startswith("SesDkimRecord")]
        assert len(dkim_records) == 3

    def test_outputs_name_every_resource_the_cli_needs(self, real: Template, synthetic: Template) -> None:
        expected = {"TableName", "ApiUrl", "FieldKeyId", "EvidenceBucketName", "SesConfigurationSetName", "OpsTopicArn"}
        assert expected <= set(real.to_json()["Outputs"])
        synthetic_outputs = set(synthetic.to_json()["Outputs"])
        assert {f"{queue.logical_id}Url" for queue in SYNTHETIC_SPECS.queues} <= synthetic_outputs
        assert {f"{topic.logical_id}Arn" for topic in SYNTHETIC_SPECS.topics} <= synthetic_outputs
        assert "ApiDomainTarget" in synthetic_outputs


class TestMonitoring:
    def _alarms(self, template: Template) -> dict[str, dict[str, Any]]:
        return template.find_resources("AWS::CloudWatch::Alarm")

    def test_every_alarm_notifies_the_ops_topic(self, synthetic: Template) -> None:
        for logical_id, alarm in self._alarms(synthetic).items():
            for actions in ("AlarmActions", "OKActions"):
                (topic,) = alarm["Properties"][actions]
                assert topic["Ref"].startswith("MessagingOpsAlarms"), (logical_id, actions)

    def test_lambda_errors_and_throttles_per_function(self, real: Template) -> None:
        alarms = self._alarms(real).values()
        for metric in ("Errors", "Throttles"):
            watched = [a for a in alarms if a["Properties"].get("MetricName") == metric]
            assert len(watched) == len(FUNCTIONS), metric

    def test_dead_letter_queue_depth_above_zero(self, synthetic: Template) -> None:
        dlq_alarms = [
            a["Properties"]
            for a in self._alarms(synthetic).values()
            if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        ]
        consumed_topics = [t for t in SYNTHETIC_SPECS.topics if t.consumer]
        expected = len(SYNTHETIC_SPECS.queues) + len(consumed_topics) + len(SYNTHETIC_SPECS.schedules)
        # Change events: the webhook rule's target DLQ and the table stream's on-failure queue.
        expected += 2 if SYNTHETIC_SPECS.event_bus is not None else 0
        assert len(dlq_alarms) == expected
        for alarm in dlq_alarms:
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")

    def test_api_5xx(self, real: Template) -> None:
        real.has_resource_properties(
            "AWS::CloudWatch::Alarm", {"Namespace": "AWS/ApiGateway", "MetricName": "5xx", "Threshold": 1}
        )

    @pytest.mark.parametrize(
        ("metric", "threshold"), [("Reputation.BounceRate", 0.04), ("Reputation.ComplaintRate", 0.0008)]
    )
    def test_ses_reputation_before_aws_acts(self, real: Template, metric: str, threshold: float) -> None:
        real.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/SES",
                "MetricName": metric,
                "Threshold": threshold,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        )

    def test_kms_request_quota_before_throttling(self, real: Template) -> None:
        real.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Threshold": 80,
                "Metrics": Match.array_with(
                    [
                        Match.object_like({"Expression": Match.string_like_regexp("SERVICE_QUOTA")}),
                        Match.object_like(
                            {
                                "MetricStat": Match.object_like(
                                    {"Metric": Match.object_like({"Namespace": "AWS/Usage", "MetricName": "CallCount"})}
                                )
                            }
                        ),
                    ]
                ),
            },
        )

    def test_a_dashboard_per_region(self, real: Template) -> None:
        real.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "samtykke-eu-north-1"})
