"""The single DynamoDB table, built from `TABLE`, and the KMS keys for data at rest and for sensitive fields."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from samtykke.resources import KeyAttribute, TableSpec

FIELD_KEY_ALIAS = "alias/samtykke/fields"


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    types = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
    return dynamodb.Attribute(name=key.name, type=types[key.type])


class DataStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, spec: TableSpec) -> None:
        super().__init__(scope, construct_id)
        self.table_key = kms.Key(
            self,
            "TableKey",
            description="samtykke: encrypts the consent table at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Application-level envelope encryption of sensitive fields (national ids, email, phone).
        self.field_key = kms.Key(
            self,
            "FieldKey",
            description="samtykke: encrypts sensitive fields inside items",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.field_key_alias = kms.Alias(self, "FieldKeyAlias", alias_name=FIELD_KEY_ALIAS, target_key=self.field_key)
        # `Table`, not `TableV2`: cdk-nag's point-in-time-recovery rule only inspects AWS::DynamoDB::Table.
        self.table = dynamodb.Table(
            self,
            spec.logical_id,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.table_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute=spec.ttl_attribute,
            stream=dynamodb.StreamViewType(spec.stream_view_type) if spec.stream_view_type else None,
        )
        for index in spec.indexes:
            # An index that projects no attributes besides its keys is KEYS_ONLY.
            projection = dynamodb.ProjectionType.INCLUDE if index.projected else dynamodb.ProjectionType.KEYS_ONLY
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key),
                projection_type=projection,
                non_key_attributes=list(index.projected) or None,
            )
