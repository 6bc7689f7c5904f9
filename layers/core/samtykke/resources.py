"""The one declaration of samtykke's AWS resources, functions and routes.

The CDK app (`infra/`) and the local stack (`samtykke.local`) both build from these specs, so the
deployed stack and `samtykke local` cannot drift apart. Pure data: no boto3, no CDK imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from samtykke.domain.uploads import AUDIT_PREFIX, EVIDENCE_PREFIX, EXPORTS_PREFIX, IMPORTS_PREFIX

# Re-exported for the CDK app and the local stack.
from samtykke.environment import ENV_CAMPAIGN_DISPATCH_QUEUE_URL as ENV_CAMPAIGN_DISPATCH_QUEUE_URL
from samtykke.environment import ENV_CAMPAIGN_QUEUE_URL as ENV_CAMPAIGN_QUEUE_URL
from samtykke.environment import ENV_CHECKPOINT_KEY_ID as ENV_CHECKPOINT_KEY_ID
from samtykke.environment import ENV_EVENT_BUS_NAME as ENV_EVENT_BUS_NAME
from samtykke.environment import ENV_EVIDENCE_BUCKET as ENV_EVIDENCE_BUCKET
from samtykke.environment import ENV_EVIDENCE_UPLOAD_QUEUE_URL as ENV_EVIDENCE_UPLOAD_QUEUE_URL
from samtykke.environment import ENV_IMPORT_QUEUE_URL as ENV_IMPORT_QUEUE_URL
from samtykke.environment import ENV_KMS_KEY_ID as ENV_KMS_KEY_ID
from samtykke.environment import ENV_PUBLIC_BASE_URL as ENV_PUBLIC_BASE_URL
from samtykke.environment import ENV_ROUTERS as ENV_ROUTERS
from samtykke.environment import ENV_SENDER_CONCURRENCY as ENV_SENDER_CONCURRENCY
from samtykke.environment import ENV_SENDER_EMAIL as ENV_SENDER_EMAIL
from samtykke.environment import ENV_SES_CONFIGURATION_SET as ENV_SES_CONFIGURATION_SET
from samtykke.environment import ENV_SES_EVENTS_TOPIC_ARN as ENV_SES_EVENTS_TOPIC_ARN
from samtykke.environment import ENV_STAGE as ENV_STAGE
from samtykke.environment import ENV_TABLE as ENV_TABLE
from samtykke.environment import ENV_WEBHOOK_DLQ_URL as ENV_WEBHOOK_DLQ_URL
from samtykke.environment import ENV_WEBHOOK_QUEUE_URL as ENV_WEBHOOK_QUEUE_URL

# AWS regions in EU/EEA member states (infra/config.py enforces them; docs/deploy.md "Regions"). Add a later one
# here when AWS opens it in a member state.
EU_REGIONS: frozenset[str] = frozenset(
    {
        "eu-north-1",  # Stockholm, Sweden
        "eu-central-1",  # Frankfurt, Germany
        "eu-west-1",  # Ireland
        "eu-west-3",  # Paris, France
        "eu-south-1",  # Milan, Italy
        "eu-south-2",  # Spain (Aragón)
    }
)
# Outside the EEA, with a European Commission adequacy decision: only with `-c allow_adequacy_regions=true`.
ADEQUACY_REGIONS: dict[str, str] = {
    "eu-west-2": "London, United Kingdom: Commission Implementing Decision (EU) 2021/1772 of 28 June 2021",
    "eu-central-2": "Zurich, Switzerland: Commission Decision 2000/518/EC of 26 July 2000",
}
DEFAULT_REGION = "eu-north-1"


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: Literal["S", "N"] = "S"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    # Attributes projected besides the keys; an empty tuple means KEYS_ONLY.
    projected: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    env_var: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str
    # The table's change stream (services/events): only committed writes appear on it, with old and new images.
    stream_view_type: Literal["NEW_AND_OLD_IMAGES"] | None = None


class Grant(StrEnum):
    """What a function may touch. infra maps each to a `grant_*` call on one resource."""

    TABLE_READ = "table:read"
    TABLE_READ_WRITE = "table:read-write"
    KMS_DECRYPT = "kms:decrypt"
    KMS_ENCRYPT_DECRYPT = "kms:encrypt-decrypt"  # includes GenerateDataKey
    EVIDENCE_READ_WRITE = "evidence:read-write"
    CAMPAIGN_QUEUE_SEND = "campaign-queue:send"
    CAMPAIGN_DISPATCH_QUEUE_SEND = "campaign-dispatch-queue:send"
    # s3:BypassGovernanceRetention, s3:PutObjectRetention, s3:DeleteObjectVersion and s3:ListBucketVersions on the
    # evidence bucket: deleting locked objects (rejected uploads, and what erasure, expiry and imports ask for) and
    # setting each object's retention. evidence_check's alone; the others send EVIDENCE_QUEUE_SEND requests.
    EVIDENCE_BYPASS_GOVERNANCE = "evidence:bypass-governance"
    EVIDENCE_QUEUE_SEND = "evidence-queue:send"  # deletion requests to evidence_check (adapters/evidence_queue.py)
    IMPORT_QUEUE_SEND = "import-queue:send"
    SES_SEND = "ses:send"
    # SendBulkEmail through the campaign templates, which it may create, and GetAccount's send quota for pacing.
    SES_BULK_SEND = "ses:bulk-send"
    SMS_PUBLISH = "sms:publish"
    # kms:Sign with the checkpoint key, and s3:PutObject (with its Object Lock retention) under checkpoints/.
    CHECKPOINT_SIGN = "checkpoint:sign"
    # kms:GetPublicKey of the checkpoint key, and reading checkpoints/ (the public key and checkpoint URLs).
    CHECKPOINT_READ = "checkpoint:read"
    EVENTS_PUT = "events:put"  # PutEvents on the stack's event bus
    WEBHOOK_QUEUE_SEND = "webhook-queue:send"
    WEBHOOK_DLQ_SEND = "webhook-dlq:send"  # the webhook queue's DLQ: deliveries that failed for the whole window
    # Fine table access: each is only the DynamoDB actions named, limited to the function's `table_keys`.
    # TABLE_READ and TABLE_READ_WRITE stay for whole-table access (they include Scan and DeleteItem).
    TABLE_GET = "table:get"  # GetItem, BatchGetItem, ConditionCheckItem (a transaction's condition)
    TABLE_QUERY = "table:query"  # Query on the table itself
    TABLE_INDEX_QUERY = "table:index-query"  # Query on the table's global secondary indexes
    TABLE_WRITE = "table:write"  # PutItem, UpdateItem (also inside TransactWriteItems)
    TABLE_BATCH_WRITE = "table:batch-write"  # BatchWriteItem (its puts and deletes)
    TABLE_DELETE = "table:delete"  # DeleteItem (also inside TransactWriteItems)


@dataclass(frozen=True)
class TableKeys:
    """Which partition keys a function's fine table grants reach, as `dynamodb:LeadingKeys` patterns (StringLike).

    `allow`: every fine grant is limited to these (empty: any key). `deny`: no action at all may touch these, which
    carves admin partitions (`T#{tenant}#STAFF`…) out of a broad `T#*`. `delete`: TABLE_DELETE only here, if set.
    `write`: TABLE_WRITE and TABLE_BATCH_WRITE only here, if set (a function that reads more than it writes).
    Index queries are not limited by key: an index's partition keys are not the table's.
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


# Partitions that only staff, the admin API and its consumers have any business with.
ADMIN_KEYS: tuple[str, ...] = (
    "T#*#STAFF",
    "T#*#AUDIT#*",
    "T#*#CAMPAIGN#*",
    "T#*#IMP#*",
    "T#*#IMPORTS",
    "K#*",
    "SD#*",
    "SVC*",
)
# The operator's partition (services/operators.py): only operator_api reads it; every function with access to any
# key is denied it.
OPERATOR_KEYS: tuple[str, ...] = ("OPERATOR",)
# The keys of a consent change (ledger): the tenant's catalog and its contacts and addresses, all under T#.
TENANT_KEYS: tuple[str, ...] = ("T#*",)
# An audit entry (adapters/audit_log.py): the entry and the head under T#, and a month's first entry lists the tenant
# under AUDITMONTH#{month} for the daily export. Every function that records audit entries needs all three.
AUDIT_KEYS: tuple[str, ...] = ("T#*#AUDIT#*", "T#*#AUDITHEAD", "AUDITMONTH#*")
AUDIT_MONTHS = AUDIT_KEYS[2]
CHECKPOINT_POINTER = "CHECKPOINT"  # adapters/checkpoints.LATEST_PK: the latest signed checkpoint
# What the admin functions reach: the tenant's items, audit months, step-up and lockout counters, the service key.
ADMIN_REACH: tuple[str, ...] = ("T#*", AUDIT_MONTHS, "RL#*", "SVC*")
# API keys by hash and the staff directory: only the staff functions write them, only login reads the directory.
IDENTITY_KEYS: tuple[str, ...] = ("K#*", "SD#*")
# Reads, writes and transactions (what a consent change takes): no Scan, no DeleteItem.
LEDGER_GRANTS: tuple[Grant, ...] = (Grant.TABLE_GET, Grant.TABLE_QUERY, Grant.TABLE_WRITE)
# Every item action but Scan, on any key: the admin API and the functions whose keys are not yet narrowed.
ITEM_GRANTS: tuple[Grant, ...] = (
    *LEDGER_GRANTS,
    Grant.TABLE_INDEX_QUERY,
    Grant.TABLE_BATCH_WRITE,
    Grant.TABLE_DELETE,
)


SES_PUBLISHER = "ses.amazonaws.com"  # a configuration set's event destination
SMS_PUBLISHER = "sms-voice.amazonaws.com"  # AWS End User Messaging SMS two-way messages
CAMPAIGN_SENDERS = 2  # campaign_sender's concurrency: two 50-recipient bulk calls fill a new SES account's 14 a second


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    env_var: str
    consumer: str
    max_receive_count: int
    visibility_timeout_seconds: int
    batch_size: int
    # The grant that lets a function send to this queue (e.g. Grant.CAMPAIGN_QUEUE_SEND), if any.
    send_grant: Grant | None = None
    # The most concurrent consumer invocations the event source starts (2-1000), or None for Lambda's default.
    max_concurrency: int | None = None


@dataclass(frozen=True)
class TopicSpec:
    logical_id: str
    env_var: str
    consumer: str | None
    # The AWS service principal allowed to publish (SES_PUBLISHER makes the topic the configuration set's
    # event destination), or None for topics only our own code publishes to.
    publisher: str | None = None


@dataclass(frozen=True)
class BucketNotificationSpec:
    """S3 event notifications from a bucket to a queue (whose consumer handles them): retries and a DLQ for free.

    `bucket` names the bucket by its environment variable (ENV_EVIDENCE_BUCKET). The queue's policy must let
    s3.amazonaws.com send from that bucket, and, for a KMS-encrypted queue, the key policy must let S3 use the key.
    """

    logical_id: str
    bucket: str
    queue: str  # a QueueSpec.logical_id
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)
    prefix: str = ""


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge schedule that invokes a function with a Scheduled Event (events/eventbridge/)."""

    logical_id: str
    function: str
    expression: str  # EventBridge syntax, e.g. "rate(1 hour)"
    description: str = ""


@dataclass(frozen=True)
class StreamSpec:
    """The table stream's consumer (a Lambda event source mapping; locally a poller thread).

    A failing batch is retried `max_retries` times, halved each time to isolate a bad record, then sent to an
    on-failure queue, so one poison record cannot hold up every change behind it.
    """

    logical_id: str
    consumer: str
    batch_size: int = 100
    max_retries: int = 10


@dataclass(frozen=True)
class EventBusSpec:
    """The stack's event bus for change events, its archive, and the rule that feeds webhook delivery."""

    logical_id: str
    env_var: str
    source: str  # the EventBridge `source` of every event samtykke puts
    archive_retention_days: int
    webhook_queue: str  # a QueueSpec.logical_id: the rule's target


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # folder under functions/; the handler is functions/<name>/handler.lambda_handler
    description: str
    grants: tuple[Grant, ...]
    memory_mb: int = 512
    timeout_seconds: int = 10
    # Public, latency-sensitive paths skip the X-Ray SDK import (see FACTS: Tracer costs ~1.9x boto3).
    hot_path: bool = False
    environment: dict[str, str] = field(default_factory=dict)
    table_keys: TableKeys = TableKeys()
    # Admin routers (modules of samtykke.api.routes) this function serves, one entry each. Deployed, every router
    # gets a function of its own: the same code, loading only that router, with API Gateway routes for its routes
    # (samtykke.api.sharding). Locally, and for routers registered in the handler itself, the function serves all.
    routers: tuple[str, ...] = ()
    # Admin routers the function keeps for itself, deployed too: they share its function and its catch-all route.
    # A stack holds at most 500 resources, and a function of its own costs about eight, plus two per route.
    kept_routers: tuple[str, ...] = ()
    # Grants only some of those routers need, with the routers that need them; every other grant goes to them all.
    router_grants: dict[Grant, tuple[str, ...]] = field(default_factory=dict)
    # The folder under functions/ holding the code, when it is not `name` (the functions split off by `routers`).
    code: str = ""
    # The evidence bucket key prefixes that EVIDENCE_READ_WRITE reaches (domain/uploads.py); required with it.
    evidence_prefixes: tuple[str, ...] = ()
    # A split-off router's own table keys and evidence prefixes, where they are narrower than the spec's.
    router_table_keys: dict[str, TableKeys] = field(default_factory=dict)
    router_evidence_prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return self.code or self.name


@dataclass(frozen=True)
class RouteSpec:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY"]
    path: str  # API Gateway HTTP API syntax: {param} and a trailing {proxy+}
    function: str
    # admin: behind the tenant authorizer. public: open (throttled). operator: past the tenant authorizer too, and
    # throttled like public; its function takes only an operator key (services/operators.py), never a tenant's.
    auth: Literal["public", "admin", "operator"]


TABLE = TableSpec(
    logical_id="ConsentTable",
    env_var=ENV_TABLE,
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    indexes=(
        # Sparse audience index: only consent-state items that are currently `granted` carry gsi1pk, under
        # T#{tenant}#AUD#{purpose}#{channel}; pending double opt-ins are listed under PENDING#{day} for expiry.
        IndexSpec(
            name="audience",
            partition_key=KeyAttribute("gsi1pk"),
            sort_key=KeyAttribute("gsi1sk"),
            projected=("contact_id", "event_id", "purpose", "channel"),
        ),
        # Sparse candidates index: every consent-state item, whatever its status, under
        # gsi2pk = T#{tenant}#CAND#{purpose}#{channel}, gsi2sk = contact id. Campaign dry runs count who is excluded
        # and why from it; transactional campaigns (no marketing consent needed) page through it.
        IndexSpec(
            name="candidates",
            partition_key=KeyAttribute("gsi2pk"),
            sort_key=KeyAttribute("gsi2sk"),
            projected=("contact_id", "status", "source"),
        ),
        # Directory index: every contact's PROFILE item, under gsi3pk = T#{tenant}#DIR, gsi3sk =
        # {created_at}#{contact id}. The admin contacts list pages through it, oldest first.
        IndexSpec(
            name="directory",
            partition_key=KeyAttribute("gsi3pk"),
            sort_key=KeyAttribute("gsi3sk"),
            projected=("contact_id", "created_at"),
        ),
    ),
    ttl_attribute="expires_at",
    stream_view_type="NEW_AND_OLD_IMAGES",
)

# Change events (services/events/publisher.py): the table stream, read by change_publisher, which puts CloudEvents
# on the bus and appends the change feed; the bus's rule queues them for webhook delivery.
TABLE_STREAM = StreamSpec("ChangeStream", "change_publisher")
EVENT_SOURCE = "dk.samtykke"
EVENT_BUS = EventBusSpec(
    "EventBus", ENV_EVENT_BUS_NAME, EVENT_SOURCE, archive_retention_days=365, webhook_queue="WebhookQueue"
)

QUEUES: tuple[QueueSpec, ...] = (
    # The evidence bucket's object-created notifications (BUCKET_NOTIFICATIONS): evidence_check verifies each upload.
    # Deletion requests too: evidence_check alone may delete governance-locked objects.
    QueueSpec(
        "EvidenceUploadQueue",
        ENV_EVIDENCE_UPLOAD_QUEUE_URL,
        "evidence_check",
        max_receive_count=5,
        visibility_timeout_seconds=120,
        batch_size=5,
        send_grant=Grant.EVIDENCE_QUEUE_SEND,
    ),
    # One message per chunk of an import; import_processor sends the next chunk's message itself.
    QueueSpec(
        "ImportQueue",
        ENV_IMPORT_QUEUE_URL,
        "import_processor",
        max_receive_count=5,
        visibility_timeout_seconds=900,
        batch_size=1,
        send_grant=Grant.IMPORT_QUEUE_SEND,
    ),
    # Campaign sends: the admin API queues one message per send request; campaign_dispatch pages the audience onto
    # CampaignQueue and queues its own continuation when its time runs short. One campaign position per message.
    QueueSpec(
        "CampaignDispatchQueue",
        ENV_CAMPAIGN_DISPATCH_QUEUE_URL,
        "campaign_dispatch",
        max_receive_count=5,
        visibility_timeout_seconds=720,
        batch_size=1,
        send_grant=Grant.CAMPAIGN_DISPATCH_QUEUE_SEND,
    ),
    # One message per chunk of up to 50 recipients; campaign_sender re-checks consent and suppression and sends.
    QueueSpec(
        "CampaignQueue",
        ENV_CAMPAIGN_QUEUE_URL,
        "campaign_sender",
        max_receive_count=5,
        visibility_timeout_seconds=360,
        batch_size=10,
        send_grant=Grant.CAMPAIGN_QUEUE_SEND,
        # SES paces the account, not the function: each sender takes its share of the account's sending rate
        # (domain/pacing.py), so more senders only help once the rate is raised.
        max_concurrency=CAMPAIGN_SENDERS,
    ),
    # Webhook delivery: change events from the bus's rule (fan-out to subscriptions) and one message per delivery
    # attempt, re-sent with a growing delay while a receiver fails; after the retry window, to its DLQ.
    QueueSpec(
        "WebhookQueue",
        ENV_WEBHOOK_QUEUE_URL,
        "webhook_delivery",
        max_receive_count=8,
        visibility_timeout_seconds=90,
        batch_size=4,  # four attempts of at most 10 s each fit the function's 60 s
        send_grant=Grant.WEBHOOK_QUEUE_SEND,
    ),
)

TOPICS: tuple[TopicSpec, ...] = (
    # AWS End User Messaging SMS publishes two-way (inbound) messages here; sms_inbound applies STOP/START.
    TopicSpec("InboundSmsTopic", "SAMTYKKE_INBOUND_SMS_TOPIC_ARN", "sms_inbound", publisher=SMS_PUBLISHER),
    # The SES configuration set publishes bounces and complaints here; ses_events suppresses the addresses.
    TopicSpec("SesEventsTopic", ENV_SES_EVENTS_TOPIC_ARN, "ses_events", publisher=SES_PUBLISHER),
)

BUCKET_NOTIFICATIONS: tuple[BucketNotificationSpec, ...] = (
    BucketNotificationSpec("EvidenceUploaded", ENV_EVIDENCE_BUCKET, "EvidenceUploadQueue", prefix="evidence/"),
)

SCHEDULES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec(
        "RetentionSweep",
        "retention_sweeper",
        "rate(1 hour)",
        "Expires double opt-ins left unconfirmed past their tenant's pending TTL",
    ),
    ScheduleSpec(
        "CampaignReconcile",
        "campaign_reconciler",
        "rate(5 minutes)",
        "Re-queues send claims whose worker died, resumes stalled dispatches, and finishes complete campaigns",
    ),
    ScheduleSpec(
        "CheckpointSign",
        "checkpoint_writer",
        "rate(5 minutes)",
        "Signs a checkpoint over the consent-log heads changed since the last one",
    ),
    ScheduleSpec("AuditExport", "audit_export", "rate(1 day)", "Writes yesterday's audit entries to JSONL files"),
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="consent_capture",
        description="Public consent capture from web forms, and double opt-in confirmation",
        # SMS: the confirmation SMS of an SMS double opt-in.
        grants=(*LEDGER_GRANTS, Grant.KMS_ENCRYPT_DECRYPT, Grant.SES_SEND, Grant.SMS_PUBLISH),
        table_keys=TableKeys(allow=TENANT_KEYS, deny=ADMIN_KEYS),
        hot_path=True,
    ),
    FunctionSpec(
        name="admin_api",
        description="Tenant admin API",
        # SES: invitations to new staff users (a one-time set-password link). Evidence: presigned uploads and
        # downloads, big exports; erasure's deletions queued to evidence_check; the import queue for starting
        # imports; the campaign queue for re-queueing a campaign's stranded sends on demand
        # (POST /v1/admin/campaigns/{id}/reconcile).
        # Table: erasure deletes a contact's partition in batches; campaigns, staff users, configuration items
        # and step-up counters are deleted one by one.
        grants=(
            *ITEM_GRANTS,
            Grant.KMS_ENCRYPT_DECRYPT,
            Grant.SES_SEND,
            Grant.EVIDENCE_READ_WRITE,
            Grant.EVIDENCE_QUEUE_SEND,
            Grant.IMPORT_QUEUE_SEND,
            Grant.CAMPAIGN_DISPATCH_QUEUE_SEND,
            Grant.CAMPAIGN_QUEUE_SEND,
            Grant.CHECKPOINT_SIGN,  # every DSAR export signs a checkpoint covering its contact
        ),
        memory_mb=1024,
        timeout_seconds=29,
        routers=(
            "admin_catalog",
            "admin_contacts",
            "admin_staff",
            "admin_rights",
            "admin_campaigns",
        ),
        kept_routers=("admin_evidence", "admin_governance"),
        # Each grant goes only to the routers whose services use it (what the integration suites record them doing).
        router_grants={
            Grant.CHECKPOINT_SIGN: ("admin_rights", "admin_evidence"),
            Grant.SES_SEND: ("admin_staff",),
            Grant.EVIDENCE_READ_WRITE: ("admin_rights", "admin_governance"),
            Grant.EVIDENCE_QUEUE_SEND: ("admin_rights",),
            Grant.IMPORT_QUEUE_SEND: ("admin_rights",),
            Grant.CAMPAIGN_DISPATCH_QUEUE_SEND: ("admin_campaigns",),
            Grant.CAMPAIGN_QUEUE_SEND: ("admin_campaigns",),
            Grant.TABLE_BATCH_WRITE: ("admin_rights",),
            Grant.TABLE_DELETE: ("admin_staff", "admin_campaigns", "admin_governance"),
        },
        # The kept routers: the evidence audit (the checkpoint pointer) and governance (do-not-contact entries,
        # retention, audit exports); no API keys or staff directory. Deletes: do-not-contact entries only.
        table_keys=TableKeys(allow=(*ADMIN_REACH, CHECKPOINT_POINTER), deny=IDENTITY_KEYS, delete=("T#*#DNC",)),
        evidence_prefixes=(AUDIT_PREFIX,),
        router_table_keys={
            "admin_catalog": TableKeys(allow=ADMIN_REACH, deny=(*IDENTITY_KEYS, "T#*#C#*", "T#*#A#*")),
            "admin_contacts": TableKeys(allow=ADMIN_REACH, deny=IDENTITY_KEYS),
            # Staff users, their directory entries and API keys; deletes: those, and spent step-up counters.
            "admin_staff": TableKeys(
                allow=(*ADMIN_REACH, *IDENTITY_KEYS), delete=("T#*#STAFF", *IDENTITY_KEYS, "RL#*")
            ),
            "admin_rights": TableKeys(allow=(*ADMIN_REACH, CHECKPOINT_POINTER), deny=IDENTITY_KEYS),
            # Campaigns and their listing; a draft is deleted item by item.
            "admin_campaigns": TableKeys(
                allow=ADMIN_REACH, deny=IDENTITY_KEYS, delete=("T#*#CAMPAIGN#*", "T#*#CAMPAIGNS")
            ),
        },
        # Evidence files, imports' CSVs and DSAR exports (rights); audit exports (governance, kept).
        router_evidence_prefixes={"admin_rights": (EVIDENCE_PREFIX, IMPORTS_PREFIX, EXPORTS_PREFIX)},
    ),
    FunctionSpec(
        name="authorizer",
        description="Lambda authorizer for the admin API: bearer API keys and staff session tokens",
        # KMS Decrypt opens the tenant root key, from which the session-token signing key derives.
        grants=(Grant.TABLE_GET, Grant.TABLE_QUERY, Grant.KMS_DECRYPT),
        # API keys by hash, staff users, and the tenant's catalog (its root key blob).
        table_keys=TableKeys(allow=("K#*", "T#*")),
        hot_path=True,
    ),
    # Staff login, refresh, logout and password reset. KMS encrypt/decrypt: the tenant root key (session signing,
    # sealed MFA secrets) and, once per deployment, GenerateDataKey for the service directory key.
    FunctionSpec(
        name="auth",
        description="Staff login with password and TOTP, session refresh and logout, password reset by email",
        grants=(*LEDGER_GRANTS, Grant.TABLE_DELETE, Grant.KMS_ENCRYPT_DECRYPT, Grant.SES_SEND),
        # Staff users, the login directory, lockout counters, the service key and the tenant's catalog; never a
        # contact, an address, a campaign or an import. Deletes: spent reset tokens, refresh families, counters.
        table_keys=TableKeys(
            allow=("T#*", "SD#*", "RL#*", "SVC*", AUDIT_MONTHS),
            deny=("T#*#C#*", "T#*#A#*", "T#*#CAMPAIGN#*", "T#*#IMP#*", "T#*#IMPORTS", "K#*"),
            delete=("T#*#STAFF", "RL#*"),
        ),
        memory_mb=1024,  # scrypt needs 32 MiB per hash, and CPU scales with memory
    ),
    FunctionSpec(
        name="openapi",
        description="Serves the OpenAPI document of every HTTP endpoint",
        grants=(),
    ),
    # SMS STOP/START. KMS Decrypt opens the tenant root key, from which blind indexes, contact keys and the
    # sealed provider secrets derive; no function here makes new KMS data keys.
    FunctionSpec(
        name="sms_webhooks",
        description="Inbound SMS webhooks from Twilio and Vonage: signatures verified, STOP/START/HELP applied",
        grants=(*LEDGER_GRANTS, Grant.KMS_DECRYPT),
        table_keys=TableKeys(allow=(*TENANT_KEYS, "SMSNUMBER#*"), deny=ADMIN_KEYS),
        hot_path=True,
    ),
    FunctionSpec(
        name="sms_inbound",
        description="Inbound SMS from AWS End User Messaging (SNS): STOP/START/HELP applied",
        grants=(*LEDGER_GRANTS, Grant.KMS_DECRYPT),
        table_keys=TableKeys(allow=(*TENANT_KEYS, "SMSNUMBER#*"), deny=ADMIN_KEYS),
    ),
    FunctionSpec(
        name="sms_admin",
        description="Admin API for SMS: provider secrets, keywords, inbound numbers",
        grants=(*LEDGER_GRANTS, Grant.TABLE_DELETE, Grant.KMS_DECRYPT),
        table_keys=TableKeys(allow=(*TENANT_KEYS, "SMSNUMBER#*", AUDIT_MONTHS), deny=("K#*", "SD#*", "SVC*")),
        timeout_seconds=29,
    ),
    # Unsubscribe links and the preference centre. KMS Decrypt opens the tenant root key (link signing keys,
    # blind indexes, contact keys); SES sends fresh preference links.
    FunctionSpec(
        name="unsubscribe",
        description="Unsubscribe links (RFC 8058 one-click), the preference centre, and fresh preference links",
        grants=(*LEDGER_GRANTS, Grant.KMS_DECRYPT, Grant.SES_SEND),
        table_keys=TableKeys(allow=(*TENANT_KEYS, "RL#*"), deny=ADMIN_KEYS),  # RL#: fresh-link rate limits
        hot_path=True,
    ),
    FunctionSpec(
        name="links_admin",
        description="Admin API for signed links: a contact's links, a test email, the link key's rotation",
        grants=(*LEDGER_GRANTS, Grant.KMS_DECRYPT, Grant.SES_SEND),
        table_keys=TableKeys(allow=(*TENANT_KEYS, AUDIT_MONTHS), deny=("K#*", "SD#*", "SVC*")),
        timeout_seconds=29,
    ),
    # Data-subject rights and evidence (services/evidence.py, imports.py, retention.py).
    FunctionSpec(
        name="evidence_check",
        description="Checks each uploaded evidence file's SHA-256, size and type; deletes and flags a mismatch",
        # The one role with the governance bypass: an upload that fails its check must go although the bucket's
        # default retention has locked it, a verified one gets the tenant's (maybe shorter) retention, and erasure,
        # expiry and imports queue their deletions here, each honoured only if the table shows it is due.
        grants=(*LEDGER_GRANTS, Grant.EVIDENCE_READ_WRITE, Grant.EVIDENCE_BYPASS_GOVERNANCE),
        table_keys=TableKeys(allow=TENANT_KEYS),
        evidence_prefixes=(EVIDENCE_PREFIX,),
        timeout_seconds=60,
    ),
    FunctionSpec(
        name="import_processor",
        description="Imports a CSV of contacts in resumable chunks under the import's declaration",
        # KMS Decrypt opens the tenant root key; contact keys are made locally and wrapped under it.
        grants=(
            *LEDGER_GRANTS,
            Grant.TABLE_BATCH_WRITE,  # the chunk's issues
            Grant.KMS_DECRYPT,
            Grant.EVIDENCE_READ_WRITE,  # reading the CSV
            Grant.EVIDENCE_QUEUE_SEND,  # its deletion, once imported
            Grant.IMPORT_QUEUE_SEND,
        ),
        table_keys=TableKeys(allow=(*TENANT_KEYS, AUDIT_MONTHS)),  # audits the import's completion
        evidence_prefixes=(IMPORTS_PREFIX,),
        memory_mb=1024,
        timeout_seconds=300,
    ),
    FunctionSpec(
        name="retention_sweeper",
        description="Expires unconfirmed double opt-ins past their tenant's pending TTL (EventBridge schedule)",
        # The pending index; an expired sign-up's address item is deleted, blind index and all, and its evidence
        # items (a batch); its files' deletion is queued to evidence_check.
        grants=(
            *LEDGER_GRANTS,
            Grant.TABLE_INDEX_QUERY,
            Grant.TABLE_BATCH_WRITE,
            Grant.TABLE_DELETE,
            Grant.KMS_DECRYPT,
            Grant.EVIDENCE_QUEUE_SEND,
        ),
        table_keys=TableKeys(allow=TENANT_KEYS, deny=ADMIN_KEYS, delete=("T#*#A#*",)),
        timeout_seconds=300,
    ),
    # The anchored consent log (services/evidence_log): scheduled checkpoints, and the public key and receipts.
    FunctionSpec(
        name="checkpoint_writer",
        description="Signs a checkpoint (Merkle root over changed consent-log heads) and archives it (schedule)",
        # The changed heads (audience index), the contacts' profiles read and anchored, and the latest pointer.
        grants=(
            Grant.TABLE_GET,
            Grant.TABLE_WRITE,
            Grant.TABLE_BATCH_WRITE,
            Grant.TABLE_INDEX_QUERY,
            Grant.CHECKPOINT_SIGN,
        ),
        table_keys=TableKeys(allow=("T#*#C#*", CHECKPOINT_POINTER)),
        timeout_seconds=300,
    ),
    FunctionSpec(
        name="evidence_public",
        description="Public evidence: the checkpoint public key, the latest signed checkpoint, consent receipts",
        grants=(Grant.TABLE_GET, Grant.TABLE_QUERY, Grant.KMS_DECRYPT, Grant.CHECKPOINT_READ),
        # The tenant's catalog (link keys), a receipt's contact log, and the latest checkpoint's pointer.
        table_keys=TableKeys(allow=(*TENANT_KEYS, CHECKPOINT_POINTER), deny=ADMIN_KEYS),
    ),
    FunctionSpec(
        name="audit_export",
        description="Writes each tenant's audit entries of the day before to the Object-Locked bucket as JSONL",
        grants=(Grant.TABLE_GET, Grant.TABLE_QUERY, Grant.EVIDENCE_READ_WRITE),
        # The month's tenants and their audit entries, read only; the files go under audit/.
        table_keys=TableKeys(allow=AUDIT_KEYS),
        evidence_prefixes=(AUDIT_PREFIX,),
        timeout_seconds=300,
    ),
    # Campaign sends (services/campaign_dispatch.py, campaign_sender.py, ses_events.py).
    FunctionSpec(
        name="campaign_dispatch",
        description="Pages a campaign's audience onto the campaign queue, 50 recipients a message",
        grants=(
            *LEDGER_GRANTS,
            Grant.TABLE_INDEX_QUERY,  # the audience and candidates indexes
            Grant.CAMPAIGN_DISPATCH_QUEUE_SEND,
            Grant.CAMPAIGN_QUEUE_SEND,
        ),
        table_keys=TableKeys(allow=TENANT_KEYS),
        timeout_seconds=120,
    ),
    # KMS Decrypt opens the tenant root key: contact keys (the sealed addresses), link signing keys.
    FunctionSpec(
        name="campaign_sender",
        description="Re-checks consent and suppression, then sends campaign email (SES) and SMS (SNS), exactly once",
        # The campaign queue: a chunk that meets throttling goes back on it, delayed, rather than toward the DLQ.
        grants=(
            *LEDGER_GRANTS,
            Grant.TABLE_BATCH_WRITE,  # send claims, made and released in batches
            Grant.KMS_DECRYPT,
            Grant.SES_BULK_SEND,
            Grant.SMS_PUBLISH,
            Grant.CAMPAIGN_QUEUE_SEND,
        ),
        table_keys=TableKeys(allow=TENANT_KEYS),
        memory_mb=1024,
        timeout_seconds=60,
        environment={ENV_SENDER_CONCURRENCY: str(CAMPAIGN_SENDERS)},
    ),
    FunctionSpec(
        name="campaign_reconciler",
        description="Re-queues campaign sends stranded by a dead worker, resumes stalled dispatches, ends campaigns",
        # The campaign, its in-flight claims (on the contacts, found through the audience index), its finish.
        grants=(
            Grant.TABLE_GET,
            Grant.TABLE_WRITE,
            Grant.TABLE_INDEX_QUERY,
            Grant.CAMPAIGN_DISPATCH_QUEUE_SEND,
            Grant.CAMPAIGN_QUEUE_SEND,
        ),
        table_keys=TableKeys(allow=("T#*#CAMPAIGN#*", "T#*#C#*"), write=("T#*#CAMPAIGN#*",)),
        timeout_seconds=120,
    ),
    # The staff console (console/): the admin services called in-process, so the admin API's grants, and its own
    # login (the staff directory) and API keys page. It signs the checkpoint that covers a contact's DSAR export.
    FunctionSpec(
        name="console",
        description="The staff console: server-rendered pages at /console/, logged in with a staff account",
        grants=(
            *ITEM_GRANTS,
            Grant.KMS_ENCRYPT_DECRYPT,
            Grant.SES_SEND,
            Grant.EVIDENCE_READ_WRITE,
            Grant.EVIDENCE_QUEUE_SEND,
            Grant.IMPORT_QUEUE_SEND,
            Grant.CAMPAIGN_DISPATCH_QUEUE_SEND,
            Grant.CHECKPOINT_SIGN,
        ),
        table_keys=TableKeys(
            allow=(*ADMIN_REACH, *IDENTITY_KEYS, CHECKPOINT_POINTER),
            delete=("T#*#STAFF", "T#*#CAMPAIGN#*", "T#*#CAMPAIGNS", "T#*#DNC", *IDENTITY_KEYS, "RL#*"),
        ),
        evidence_prefixes=(EVIDENCE_PREFIX, IMPORTS_PREFIX, EXPORTS_PREFIX),
        memory_mb=1024,  # scrypt at login
        timeout_seconds=29,
    ),
    # KMS Decrypt opens the tenant root key, for the blind index of a bounced or complaining address.
    FunctionSpec(
        name="ses_events",
        description="SES bounces and complaints (SNS): suppresses hard-bouncing and complaining addresses",
        grants=(*LEDGER_GRANTS, Grant.KMS_DECRYPT),
        # It counts bounces and complaints on the campaign that sent the mail, so campaigns are not denied.
        table_keys=TableKeys(allow=TENANT_KEYS, deny=tuple(k for k in ADMIN_KEYS if k != "T#*#CAMPAIGN#*")),
        timeout_seconds=30,
    ),
)

FUNCTIONS += (
    FunctionSpec(
        name="change_publisher",
        description="Reads the table stream: puts each consent change on the event bus as a CloudEvent, and "
        "appends the change feed",
        # Only the change feed's batch writes; the stream itself is read through its event source mapping.
        grants=(Grant.TABLE_BATCH_WRITE, Grant.EVENTS_PUT),
        table_keys=TableKeys(allow=("T#*#FEED#*",)),
        timeout_seconds=60,
    ),
    # KMS Decrypt opens the tenant root key: sealed webhook secrets, and a contact's addresses for subscriptions
    # that opt in to them.
    FunctionSpec(
        name="webhook_delivery",
        description="Delivers change events to tenants' webhooks (Standard Webhooks), with retries for 27 hours",
        grants=(*LEDGER_GRANTS, Grant.KMS_DECRYPT, Grant.WEBHOOK_QUEUE_SEND, Grant.WEBHOOK_DLQ_SEND),
        # Reads the catalog, subscriptions and contacts; writes only subscriptions and their delivery log.
        table_keys=TableKeys(allow=TENANT_KEYS, deny=ADMIN_KEYS, write=("T#*#WEBHOOKS", "T#*#WHD#*")),
        timeout_seconds=60,
    ),
    # The operator API: operator keys (the OPERATOR partition), the tenant's plan on its META item, and the audit
    # entry (KMS Decrypt opens the tenant root key, which seals the entry's IP). Never a contact or an address.
    FunctionSpec(
        name="operator_api",
        description="Operator API: a tenant's plan, set with an operator key that no tenant holds",
        grants=(*LEDGER_GRANTS, Grant.KMS_DECRYPT),
        table_keys=TableKeys(allow=(*OPERATOR_KEYS, *TENANT_KEYS), deny=("T#*#C#*", "T#*#A#*", "T#*#STAFF", "K#*")),
    ),
    FunctionSpec(
        name="events_admin",
        description="Admin API for webhook subscriptions, their delivery log, and the change feed",
        grants=(*LEDGER_GRANTS, Grant.TABLE_DELETE, Grant.KMS_ENCRYPT_DECRYPT, Grant.WEBHOOK_QUEUE_SEND),
        # Subscriptions, their delivery log, the change feed and its own audit entries; a subscription is deleted.
        table_keys=TableKeys(
            allow=(*TENANT_KEYS, AUDIT_MONTHS),
            deny=("T#*#STAFF", "T#*#CAMPAIGN#*", "T#*#IMP#*", "T#*#IMPORTS", "T#*#A#*"),
            write=("T#*#WEBHOOKS", "T#*#WHD#*", *AUDIT_KEYS),
            delete=("T#*#WEBHOOKS",),
        ),
        timeout_seconds=29,
    ),
)

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("POST", "/v1/public/{tenant_id}/consents", "consent_capture", "public"),
    RouteSpec("OPTIONS", "/v1/public/{tenant_id}/consents", "consent_capture", "public"),
    RouteSpec("GET", "/v1/public/confirm/{token}", "consent_capture", "public"),
    RouteSpec("POST", "/v1/public/confirm/{token}", "consent_capture", "public"),
    RouteSpec("GET", "/v1/public/parental/{token}", "consent_capture", "public"),
    RouteSpec("POST", "/v1/public/parental/{token}", "consent_capture", "public"),
    RouteSpec("GET", "/v1/public/evidence/public-key", "evidence_public", "public"),
    RouteSpec("GET", "/v1/public/evidence/checkpoints/latest", "evidence_public", "public"),
    RouteSpec("GET", "/v1/public/receipts/{token}", "evidence_public", "public"),
    RouteSpec("GET", "/openapi.json", "openapi", "public"),
    RouteSpec("ANY", "/v1/admin/{proxy+}", "admin_api", "admin"),
    RouteSpec("POST", "/v1/auth/login", "auth", "public"),
    RouteSpec("POST", "/v1/auth/refresh", "auth", "public"),
    RouteSpec("POST", "/v1/auth/logout", "auth", "public"),
    RouteSpec("POST", "/v1/auth/password-reset", "auth", "public"),
    RouteSpec("GET", "/v1/auth/password-reset/{token}", "auth", "public"),
    RouteSpec("POST", "/v1/auth/password-reset/{token}", "auth", "public"),
    RouteSpec("POST", "/v1/webhooks/sms/twilio/{tenant_id}", "sms_webhooks", "public"),
    RouteSpec("POST", "/v1/webhooks/sms/vonage/{tenant_id}", "sms_webhooks", "public"),
    # More specific than /v1/admin/{proxy+}, so API Gateway (and the local front) send these to sms_admin.
    RouteSpec("GET", "/v1/admin/settings/sms", "sms_admin", "admin"),
    RouteSpec("PUT", "/v1/admin/settings/sms/{provider}", "sms_admin", "admin"),
    RouteSpec("DELETE", "/v1/admin/settings/sms/{provider}", "sms_admin", "admin"),
    RouteSpec("GET", "/v1/admin/sms/keywords", "sms_admin", "admin"),
    RouteSpec("POST", "/v1/admin/sms/keywords", "sms_admin", "admin"),
    RouteSpec("DELETE", "/v1/admin/sms/keywords/{keyword_id}", "sms_admin", "admin"),
    RouteSpec("GET", "/v1/admin/sms/numbers", "sms_admin", "admin"),
    RouteSpec("POST", "/v1/admin/sms/numbers", "sms_admin", "admin"),
    RouteSpec("DELETE", "/v1/admin/sms/numbers/{number}", "sms_admin", "admin"),
    RouteSpec("GET", "/v1/admin/sms/status", "sms_admin", "admin"),
    RouteSpec("GET", "/u/{token}", "unsubscribe", "public"),
    RouteSpec("POST", "/u/{token}", "unsubscribe", "public"),
    RouteSpec("GET", "/p/{token}", "unsubscribe", "public"),
    RouteSpec("POST", "/p/{token}", "unsubscribe", "public"),
    RouteSpec("POST", "/v1/public/{tenant_id}/preference-link", "unsubscribe", "public"),
    RouteSpec("OPTIONS", "/v1/public/{tenant_id}/preference-link", "unsubscribe", "public"),
    # More specific than /v1/admin/{proxy+}, so API Gateway (and the local front) send these to links_admin.
    RouteSpec("POST", "/v1/admin/contacts/{contact_id}/links", "links_admin", "admin"),
    RouteSpec("POST", "/v1/admin/messages/test", "links_admin", "admin"),
    RouteSpec("GET", "/v1/admin/settings/link-key", "links_admin", "admin"),
    RouteSpec("POST", "/v1/admin/settings/link-key/rotate", "links_admin", "admin"),
    # The embeddable form: its script, and the tenant's purposes and texts it renders.
    RouteSpec("GET", "/v1/public/{tenant_id}/embed.js", "consent_capture", "public"),
    RouteSpec("GET", "/v1/public/{tenant_id}/form", "consent_capture", "public"),
    # More specific than /v1/admin/{proxy+}, so API Gateway (and the local front) send these to events_admin.
    RouteSpec("GET", "/v1/admin/webhooks", "events_admin", "admin"),
    RouteSpec("POST", "/v1/admin/webhooks", "events_admin", "admin"),
    RouteSpec("GET", "/v1/admin/webhooks/{subscription_id}", "events_admin", "admin"),
    RouteSpec("PATCH", "/v1/admin/webhooks/{subscription_id}", "events_admin", "admin"),
    RouteSpec("DELETE", "/v1/admin/webhooks/{subscription_id}", "events_admin", "admin"),
    RouteSpec("POST", "/v1/admin/webhooks/{subscription_id}/{action}", "events_admin", "admin"),
    RouteSpec("GET", "/v1/admin/webhooks/{subscription_id}/deliveries", "events_admin", "admin"),
    RouteSpec("POST", "/v1/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/replay", "events_admin", "admin"),
    RouteSpec("GET", "/v1/admin/changes", "events_admin", "admin"),
    # The operator's: not a tenant's route, so the tenant authorizer never sees it (services/operators.py).
    RouteSpec("PUT", "/v1/operator/tenants/{tenant_id}/plan", "operator_api", "operator"),
    # The console authenticates its own cookie session (console/session.py), so its routes are public to API Gateway.
    RouteSpec("GET", "/console", "console", "public"),
    RouteSpec("ANY", "/console/{proxy+}", "console", "public"),
)


def function_spec(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
