"""The one helper that builds every Lambda function, so runtime, tracing, logging and layers are set in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import AssetHashType, BundlingOptions, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.assets import build_function, function_hash
from infra.constructs.layers import ARCHITECTURE, REPO_ROOT, RUNTIME, LocalBuild
from infra.constructs.logs import LogStore
from infra.nag import acknowledge, kms_family_findings
from infra.specs import SpecError
from samtykke.resources import FunctionSpec

FUNCTIONS_DIR = REPO_ROOT / "functions"
HANDLER = "handler.lambda_handler"
METRICS_NAMESPACE = "samtykke"


def pascal_case(name: str) -> str:
    """`consent_capture` -> `ConsentCapture`, for construct ids."""
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


class FunctionFactory(Construct):
    """Builds functions from FunctionSpecs; `functions` holds each one by spec name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        layers: Sequence[lambda_.ILayerVersion],
        log_store: LogStore,
        environment: Mapping[str, str],
        log_level: str,
        reserved_concurrency: Mapping[str, int],
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        self._functions_dir = functions_dir
        self._layers = list(layers)
        self._log_store = log_store
        self._environment = dict(environment)
        self._log_level = log_level
        self._reserved_concurrency = reserved_concurrency
        self.functions: dict[str, lambda_.Function] = {}

    def build(self, spec: FunctionSpec, *, dead_letter_queue: sqs.IQueue | None = None) -> lambda_.Function:
        """Builds one function. `dead_letter_queue` catches failed asynchronous invocations (SNS deliveries)."""
        group = Construct(self, pascal_case(spec.name))
        # An explicit role, without the AWSLambdaBasicExecutionRole managed policy: the function may write
        # to its own log group and nothing else.
        role = iam.Role(
            group,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"samtykke {spec.name}: only the grants its FunctionSpec declares",
        )
        log_group = self._log_store.log_group(group, "Logs")
        log_group.grant_write(role)
        function = lambda_.Function(
            group,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=self._code(self._functions_dir / spec.folder),
            description=spec.description,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            # X-Ray tracing on every function: Lambda traces each invocation without the SDK. `hot_path`
            # only tells application code not to import the X-Ray SDK.
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel[self._log_level],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            layers=self._layers,
            environment=self._function_environment(spec),
            reserved_concurrent_executions=self._reserved_concurrency.get(spec.name),
            dead_letter_queue=dead_letter_queue,
        )
        if dead_letter_queue is not None:
            # Lambda writes failed events to the DLQ with the function's role; CDK grants only sqs:SendMessage,
            # and the queue is KMS-encrypted.
            dead_letter_queue.grant_send_messages(role)
        self._acknowledge(function, role, has_dead_letter_queue=dead_letter_queue is not None)
        self.functions[spec.name] = function
        return function

    @staticmethod
    def _code(folder: Path) -> lambda_.Code:
        """The function's folder, built by infra/assets.py, hashed on its source, generated files and bytecode kind."""
        return lambda_.Code.from_asset(
            str(folder),
            exclude=["__pycache__", "*.pyc"],
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=function_hash(folder),
            bundling=BundlingOptions(
                image=RUNTIME.bundling_image, local=LocalBuild(lambda output: build_function(folder, output))
            ),
        )

    def _function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        environment = {
            **self._environment,
            "POWERTOOLS_SERVICE_NAME": spec.name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": self._log_level,
        }
        clashes = sorted(set(spec.environment) & set(environment))
        if clashes:
            raise SpecError(f"function {spec.name}: the CDK app sets {clashes}; its spec cannot override them")
        return {**environment, **spec.environment}

    @staticmethod
    def _acknowledge(function: lambda_.Function, role: iam.Role, *, has_dead_letter_queue: bool) -> None:
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5",
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
            "permissions, so AWS requires Resource '*'. Tests allow no other action on '*' in this policy.",
            finding="Resource::*",
        )
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                function,
                rule,
                "Pinned to Python 3.13 on purpose: the dependency layer's wheels are built for cp313, and the "
                "runtime moves only together with layers/deps and the test matrix.",
            )
        if has_dead_letter_queue:
            for finding, reason in kms_family_findings().items():
                acknowledge(role, "AwsSolutions-IAM5", reason, finding=finding)
        else:
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "Never invoked asynchronously: API Gateway and the authorizer invoke it synchronously, and SQS "
                "event sources return failures to the queue, whose redrive policy moves them to its DLQ.",
            )
