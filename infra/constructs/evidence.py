"""The evidence bucket (form screenshots and other consent evidence) and the bucket its access logs go to."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge
from samtykke.domain.uploads import EXPORTS_PREFIX, IMPORTS_PREFIX

_TLS_1_2 = 1.2


class EvidenceStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="samtykke: encrypts consent evidence",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # S3 server access logs can only be delivered to a bucket encrypted with S3-managed keys.
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=_TLS_1_2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_log_bucket,
            "AwsSolutions-S1",
            "This bucket receives the evidence bucket's server access logs; logging it too would need a third "
            "bucket and would log the log deliveries themselves.",
        )
        # Governance-mode Object Lock: evidence cannot be altered or deleted within the retention period,
        # except by a principal explicitly granted s3:BypassGovernanceRetention (erasure requests).
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.governance(Duration.days(retention_days)),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=_TLS_1_2,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="evidence/",
            lifecycle_rules=[
                # Erased evidence leaves noncurrent versions; they go once their lock has run out.
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                # Large DSAR exports are fetched through a 15-minute link; nothing needs them a day later.
                s3.LifecycleRule(prefix=EXPORTS_PREFIX, expiration=Duration.days(1)),
                # An import's CSV is deleted when the import completes; this catches abandoned ones.
                s3.LifecycleRule(
                    prefix=IMPORTS_PREFIX, expiration=Duration.days(8), noncurrent_version_expiration=Duration.days(1)
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Signs consent-log checkpoints (services/evidence_log). Asymmetric, so KMS cannot rotate it: a new key
        # would be a new public key, which verifiers of old checkpoints would also need.
        self.checkpoint_key = kms.Key(
            self,
            "CheckpointKey",
            description="samtykke: signs consent-log checkpoints (ECDSA P-256)",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=RemovalPolicy.RETAIN,
        )
