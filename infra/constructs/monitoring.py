"""CloudWatch alarms, each routed to the ops topic, and one dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function import pascal_case

# The rates at which AWS puts an SES account under review; the alarms fire before that.
SES_BOUNCE_RATE_LIMIT = 0.04
SES_COMPLAINT_RATE_LIMIT = 0.0008
# Alarm when the account's symmetric KMS requests reach this share of the request quota, before KMS throttles.
KMS_QUOTA_UTILISATION_PERCENT = 80

_FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_topic: sns.ITopic,
        functions: Mapping[str, lambda_.IFunction],
        queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        http_api: apigwv2.IHttpApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []

        for name, function in functions.items():
            self._alarm(
                f"{pascal_case(name)}Errors",
                function.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
                description=f"Lambda {name} raised errors",
            )
            self._alarm(
                f"{pascal_case(name)}Throttles",
                function.metric_throttles(period=_FIVE_MINUTES, statistic="Sum"),
                description=f"Lambda {name} was throttled",
            )
        for logical_id, dead_letter_queue in dead_letter_queues.items():
            self._alarm(
                f"{logical_id}DlqDepth",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                description=f"Messages of {logical_id} failed for good and wait in its dead-letter queue",
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
        api_5xx = http_api.metric_server_error(period=_FIVE_MINUTES, statistic="Sum")
        self._alarm("Api5xx", api_5xx, description="The HTTP API answered with 5xx")

        bounce_rate = _ses_reputation("Reputation.BounceRate")
        complaint_rate = _ses_reputation("Reputation.ComplaintRate")
        self._alarm(
            "SesBounceRate",
            bounce_rate,
            description=f"SES bounce rate above {SES_BOUNCE_RATE_LIMIT:.0%}: AWS reviews the account at 5%",
            threshold=SES_BOUNCE_RATE_LIMIT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            "SesComplaintRate",
            complaint_rate,
            description=f"SES complaint rate above {SES_COMPLAINT_RATE_LIMIT:.2%}: AWS reviews the account at 0.1%",
            threshold=SES_COMPLAINT_RATE_LIMIT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        kms_utilisation = _kms_quota_utilisation()
        self._alarm(
            "KmsThrottling",
            kms_utilisation,
            description=(
                f"Symmetric KMS requests above {KMS_QUOTA_UTILISATION_PERCENT}% of the account's request quota: "
                "KMS throttles beyond it"
            ),
            threshold=KMS_QUOTA_UTILISATION_PERCENT,
        )

        self.dashboard = self._dashboard(functions, queues, dead_letter_queues, http_api)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="SES reputation", left=[bounce_rate, complaint_rate], width=12),
            cloudwatch.GraphWidget(title="KMS request quota used (%)", left=[kms_utilisation], width=12),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float = 1,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)

    def _dashboard(
        self,
        functions: Mapping[str, lambda_.IFunction],
        queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        http_api: apigwv2.IHttpApi,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"samtykke-{Stack.of(self).region}")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[http_api.metric_count(), http_api.metric_client_error(), http_api.metric_server_error()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency p99 (ms)", left=[http_api.metric_latency(statistic="p99")], width=12
            ),
        )
        per_function = (
            ("Invocations", lambda function: function.metric_invocations()),
            ("Errors", lambda function: function.metric_errors()),
            ("Throttles", lambda function: function.metric_throttles()),
            ("Duration p99 (ms)", lambda function: function.metric_duration(statistic="p99")),
        )
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"Lambda {title}",
                    left=[metric(function).with_(label=name) for name, function in functions.items()],
                    width=6,
                )
                for title, metric in per_function
            )
        )
        if queues or dead_letter_queues:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Queue depth",
                    left=[
                        queue.metric_approximate_number_of_messages_visible().with_(label=logical_id)
                        for logical_id, queue in queues.items()
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Dead-letter queue depth",
                    left=[
                        queue.metric_approximate_number_of_messages_visible().with_(label=logical_id)
                        for logical_id, queue in dead_letter_queues.items()
                    ],
                    width=12,
                ),
            )
        return dashboard


def _ses_reputation(metric_name: str) -> cloudwatch.Metric:
    """The account's SES reputation, as AWS measures it for enforcement (a ratio, 0..1)."""
    return cloudwatch.Metric(
        namespace="AWS/SES", metric_name=metric_name, statistic="Maximum", period=Duration.hours(1)
    )


def _kms_quota_utilisation() -> cloudwatch.MathExpression:
    """Per-second symmetric KMS requests (Decrypt, Encrypt, GenerateDataKey...) as a percentage of their quota."""
    calls = cloudwatch.Metric(
        namespace="AWS/Usage",
        metric_name="CallCount",
        dimensions_map={
            "Service": "KMS",
            "Type": "API",
            "Resource": "CryptographicOperationsSymmetric",
            "Class": "None",
        },
        statistic="Sum",
        period=Duration.minutes(1),
    )
    return cloudwatch.MathExpression(
        expression="(calls / 60) / SERVICE_QUOTA(calls) * 100",
        using_metrics={"calls": calls},
        label="KMS symmetric request quota used (%)",
        period=Duration.minutes(1),
    )
