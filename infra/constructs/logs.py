"""Log groups: every one KMS-encrypted (access logs hold client IPs, which are personal data) and with retention."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


class LogStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        self._retention = retention
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description="samtykke: encrypts the CloudWatch log groups of functions and the API",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs uses the key on behalf of log groups in this account and region only.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def log_group(self, scope: Construct, construct_id: str) -> logs.LogGroup:
        return logs.LogGroup(
            scope,
            construct_id,
            encryption_key=self.key,
            retention=self._retention,
            # Logs outlive a torn-down stack, like the data they describe.
            removal_policy=RemovalPolicy.RETAIN,
        )
