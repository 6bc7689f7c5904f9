"""Environment variable names shared by the CDK app, the local stack and `samtykke.settings`.

`resources.py` re-exports them; they live apart so that a function reads its settings without building the
resource specs (their dataclasses cost about 8 ms of every cold start).
"""

ENV_TABLE = "SAMTYKKE_TABLE"
ENV_KMS_KEY_ID = "SAMTYKKE_KMS_KEY_ID"
ENV_EVIDENCE_BUCKET = "SAMTYKKE_EVIDENCE_BUCKET"
ENV_PUBLIC_BASE_URL = "SAMTYKKE_PUBLIC_BASE_URL"
ENV_SENDER_EMAIL = "SAMTYKKE_SENDER_EMAIL"
ENV_SES_CONFIGURATION_SET = "SAMTYKKE_SES_CONFIGURATION_SET"
ENV_STAGE = "SAMTYKKE_STAGE"
ENV_IMPORT_QUEUE_URL = "SAMTYKKE_IMPORT_QUEUE_URL"
ENV_EVIDENCE_UPLOAD_QUEUE_URL = "SAMTYKKE_EVIDENCE_UPLOAD_QUEUE_URL"
ENV_CAMPAIGN_DISPATCH_QUEUE_URL = "SAMTYKKE_CAMPAIGN_DISPATCH_QUEUE_URL"
ENV_CAMPAIGN_QUEUE_URL = "SAMTYKKE_CAMPAIGN_QUEUE_URL"
ENV_SES_EVENTS_TOPIC_ARN = "SAMTYKKE_SES_EVENTS_TOPIC_ARN"
ENV_CHECKPOINT_KEY_ID = "SAMTYKKE_CHECKPOINT_KEY_ID"
ENV_EVENT_BUS_NAME = "SAMTYKKE_EVENT_BUS_NAME"
ENV_WEBHOOK_QUEUE_URL = "SAMTYKKE_WEBHOOK_QUEUE_URL"
ENV_WEBHOOK_DLQ_URL = "SAMTYKKE_WEBHOOK_DLQ_URL"
# The local stack's short webhook retry schedule, `base,cap,window` in seconds (domain/webhooks.RetryPolicy).
ENV_WEBHOOK_RETRY = "SAMTYKKE_WEBHOOK_RETRY"
# How many campaign senders run at once (the campaign queue's `max_concurrency`): each paces itself to its share of
# the SES account's sending rate (domain/pacing.py).
ENV_SENDER_CONCURRENCY = "SAMTYKKE_SENDER_CONCURRENCY"
# Set on each function that serves a share of its spec's admin routers (samtykke.api.sharding).
ENV_ROUTERS = "SAMTYKKE_ROUTERS"
