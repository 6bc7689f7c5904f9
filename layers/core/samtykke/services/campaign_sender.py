"""Sending one chunk of a campaign: re-check, claim, send, record, count. Exactly once in effect.

For a chunk of up to 50 contacts:
1. `recipients.evaluate` reads each contact's profile and consent state (BatchGetItem, 100 keys a call), then the
   address suppressions, and applies the recipient filter *now*: an unsubscribe, STOP, bounce or erasure that landed
   after the dispatch stops the message.
2. One TransactWriteItems claims every contact, each under `attribute_not_exists`: a `claimed` item for each one to
   send, a final `skipped` record (with its reason) for each one the filter excluded. The claims are not read first:
   a key held already fails its condition and the cancellation brings back the item holding it (ALL_OLD), and the
   transaction, which wrote nothing, is put again for the free keys (`CampaignRepository.claim`). The key is
   (campaign, contact), so a redelivered or duplicated message claims nothing again and sends nothing twice; it
   costs one more round, where reading the claims first cost a call on every chunk. Every claim names its owner
   (chunk, receive attempt, invocation; `domain/work.py`) and the transaction carries a ClientRequestToken derived
   from it: when a committed claim's reply is lost and the retry meets the claims, the sender knows them as its own
   and sends them. A claim held by another live worker is left to it; one whose lease ran out is taken over (in the
   next round). Live claims are listed in the sparse `audience` index under `T#{tenant}#INFLIGHT#{campaign}` until
   their record replaces them, which is how `campaign_reconciler` finds the ones a dead invocation left behind.
3. The claimed messages go out: email in one SES v2 SendBulkEmail call per 50 recipients, each entry with its own
   content, both List-Unsubscribe headers and a visible link (adapters/campaign_senders.BulkMailer); SMS one SNS
   Publish each, with the tenant's opt-out hint, a few at a time.
4. One transaction turns each claim into its send record (campaign, contact, the consent event relied on, the
   provider's message id, the time), or releases it when the provider was throttling, and ADDs to the campaign's
   counters, once per unit of work (a marker item makes a retried transaction write nothing again).
Throttling stops the chunk where it is and raises `RetryableError`: the queue brings it back later, and the chunks
after it in the same invocation give way at once (`pause`) instead of hammering the provider.

This is our own idempotency record rather than powertools' idempotency utility: that utility costs two writes per
recipient (in progress, then complete), which alone would triple the calls a campaign makes; the claim costs one
transaction per 50 recipients, and the send record doubles as the completion mark.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from email.utils import formataddr
from typing import Any, Protocol

from samtykke.adapters.campaign_repository import CampaignRepository, Claim, Claimed, Key, inflight_pk, send_sk
from samtykke.adapters.campaign_senders import BULK_LIMIT, BulkOutcome, OutcomeUnknown, RecipientRejected
from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.repository import contact_pk
from samtykke.domain.audience import Excluded, Included
from samtykke.domain.campaigns import HEADER_CAMPAIGN, HEADER_TENANT, TAG_CAMPAIGN, TAG_CONTACT, TAG_TENANT
from samtykke.domain.consent import Channel
from samtykke.domain.defaults import SUPPORTED_LOCALES, resolve_locale
from samtykke.domain.errors import RetryableError
from samtykke.domain.mail import OutgoingEmail
from samtykke.domain.merge import render
from samtykke.domain.pacing import MAX_DELAY_SECONDS, SendQuota, TokenBucket, retry_delay
from samtykke.domain.work import CLAIMED, FAILED, SENT, SKIPPED, ClaimStanding, WorkItem, standing
from samtykke.models.campaign import RecipientChunk
from samtykke.observability import logger
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.links import LinkSigner, list_unsubscribe_headers
from samtykke.services.recipients import CampaignPlan, Recipient, address_of, evaluate
from samtykke.templates import messages
from samtykke.templates.campaign import campaign_footer, with_footer

LEASE_SECONDS = 180  # longer than the sender's timeout (60 s): a live invocation never loses its claim
SEND_WORKERS = 8
PLAN_TTL_SECONDS = 60.0  # a campaign's content cannot change once it is sending
MIN_TIME_LEFT_MS = 15_000
PAUSE_SECONDS = 2.0
RECORD_ATTEMPTS = 4
RECORD_BACKOFF_SECONDS = 0.2
QUOTA_TTL_SECONDS = 60.0  # the account's use is read again this often: the senders share its daily quota
MAX_PACE_WAIT_SECONDS = 10.0  # a longer wait for tokens puts the rest of the chunk back on the queue instead


class EmailSender(Protocol):
    def send_bulk(self, items: Sequence[tuple[OutgoingEmail, Mapping[str, str]]]) -> list[BulkOutcome]: ...

    def quota(self) -> SendQuota: ...


class PacedOut(RetryableError):
    """The chunk waits for the account's send quota: it comes back after `retry_after` seconds, which is progress,
    not a fault, so the deferral does not count toward the DLQ."""

    code = "paced"


@dataclass
class SesPace:
    """This container's view of the SES account: the quota as last read, what it sent since, and its token bucket."""

    quota: SendQuota
    read_at: float  # monotonic
    bucket: TokenBucket
    sent_since: int = 0

    @property
    def daily_left(self) -> float:
        return self.quota.daily_left - self.sent_since


class TextSender(Protocol):
    def send(self, phone: str, text: str, *, transactional: bool) -> str: ...


@dataclass
class SenderState:
    """What one sender container keeps between chunks: campaign plans, a pause after throttling, the send threads."""

    plans: dict[tuple[str, str], tuple[float, CampaignPlan | None]] = field(default_factory=dict)
    paused_until: float = 0.0
    ses: SesPace | None = None
    # The tenant catalogs this invocation checked: its chunks are decided against one snapshot, as one request is.
    catalogs: dict[str, tuple[str, TenantCatalog]] = field(default_factory=dict)
    # The send threads, started once per container rather than once per chunk.
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=SEND_WORKERS))

    def plan(self, repo: CampaignRepository, tenant_id: str, campaign_id: str) -> CampaignPlan | None:
        cached = self.plans.get((tenant_id, campaign_id))
        if cached is not None and time.monotonic() - cached[0] < PLAN_TTL_SECONDS:
            return cached[1]
        item = repo.get(tenant_id, campaign_id)
        plan = CampaignPlan.from_item(item) if item is not None else None
        self.plans[(tenant_id, campaign_id)] = (time.monotonic(), plan)
        return plan

    def catalog(self, svc: Services, tenant_id: str, invocation: str) -> TenantCatalog:
        """The tenant's catalog, checked for freshness once per invocation (one change-counter read per batch)."""
        held = self.catalogs.get(tenant_id)
        if held is not None and held[0] == invocation:
            return held[1]
        catalog = svc.catalogs.get(tenant_id)
        self.catalogs[tenant_id] = (invocation, catalog)
        return catalog

    def pace(self, email: EmailSender, concurrency: int) -> SesPace:
        """The account's pace, its quota read again once a minute; the bucket keeps its tokens across reads."""
        now = time.monotonic()
        if self.ses is not None and now - self.ses.read_at < QUOTA_TTL_SECONDS:
            return self.ses
        quota = email.quota()
        bucket = TokenBucket.share(quota, concurrency, now)
        if self.ses is not None:
            self.ses.bucket.take(0, now)  # brought up to date, so its saved tokens carry over
            bucket.tokens = min(bucket.capacity, self.ses.bucket.tokens)
        self.ses = SesPace(quota=quota, read_at=now, bucket=bucket)
        return self.ses


@dataclass
class ChunkResult:
    sent: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    minors: int = 0
    released: int = 0  # claims given back for a retry (throttling)
    in_flight: int = 0  # claimed by another live worker, which finishes them
    unconfirmed: int = 0  # counted as sent, though the provider's answer was lost
    taken_over: int = 0  # claims whose lease had run out, taken over from a worker that died


@dataclass(frozen=True)
class _Outcome:
    recipient: Recipient
    message_id: str | None = None
    error: str | None = None  # a permanent failure's code
    retry: bool = False  # throttled, or never attempted after a throttle
    skipped: bool = False  # excluded by the filter after it was claimed
    unconfirmed: bool = False  # the provider's answer was lost: maybe sent, never to be repeated
    paced: float = 0.0  # not sent for want of send quota: the seconds until it is there (with `retry`)


class ChunkSender:
    def __init__(
        self,
        svc: Services,
        email: EmailSender,
        sms: TextSender,
        state: SenderState,
    ) -> None:
        self._svc = svc
        self._email = email
        self._sms = sms
        self._state = state
        self._repo = CampaignRepository(svc.settings.table_name)

    def send(
        self, chunk: RecipientChunk, work: WorkItem, *, time_left_ms: Callable[[], int] = lambda: 60_000
    ) -> ChunkResult:
        if time.monotonic() < self._state.paused_until:
            raise RetryableError("The provider is throttling; this chunk waits its turn", code="throttled")
        if time_left_ms() < MIN_TIME_LEFT_MS:  # the chunks before it took the time: it goes next, not toward the DLQ
            raise PacedOut("Too little time left in this invocation", retry_after=1)
        plan = self._state.plan(self._repo, chunk.tenant_id, chunk.campaign_id)
        if plan is None:
            logger.warning("Chunk for an unknown campaign dropped", extra={"campaign_id": chunk.campaign_id})
            return ChunkResult()
        pace = (
            self._state.pace(self._email, self._svc.settings.sender_concurrency)
            if plan.channel is Channel.EMAIL
            else None
        )
        if pace is not None and pace.daily_left < 1:
            raise PacedOut("The SES account's daily quota is used up", retry_after=MAX_DELAY_SECONDS)
        catalog = self._state.catalog(self._svc, chunk.tenant_id, work.request_id)
        keys = self._svc.keyring.tenant_keys(chunk.tenant_id, catalog.root_key_blob)
        now = self._svc.clock()
        recipients = evaluate(self._repo, keys, plan, chunk.contacts, country=catalog.tenant.country, today=now.date())
        claimed = self._claim(plan, chunk, work, recipients, now.timestamp())
        result = ChunkResult(taken_over=len(claimed.taken_over))
        to_send: list[Recipient] = []
        excluded_mine: list[Recipient] = []  # our own claim to send, which the filter now excludes: it ends skipped
        for recipient in recipients:
            key = _send_key(plan, recipient.contact_id)
            if key in claimed.ours:
                if isinstance(recipient.decision, Included):
                    to_send.append(recipient)
                else:
                    result.skipped[recipient.decision.reason.value] += 1
                continue
            held = claimed.held[key]
            found = standing(held, work.owner, now.timestamp())
            if found is ClaimStanding.MINE and isinstance(recipient.decision, Excluded):
                excluded_mine.append(recipient)
                result.skipped[recipient.decision.reason.value] += 1
            elif found is ClaimStanding.IN_FLIGHT:
                result.in_flight += 1
            elif found is ClaimStanding.DONE and held.get("chunk") != chunk.chunk:
                result.duplicates += 1  # queued twice by the dispatcher; processed once

        signer = keys_signer(self._svc, catalog, plan, keys)
        outcomes = self._send_all(plan, catalog, signer, to_send, pace, time_left_ms)
        outcomes += [_Outcome(r, skipped=True) for r in excluded_mine]
        # What went out must be written down: a claim left unrecorded would wait for the reconciler, which cannot
        # know it was sent. Every write of the record step is idempotent, so it is simply done again.
        for attempt in range(RECORD_ATTEMPTS):
            recorded = replace(result, skipped=Counter(result.skipped))  # the counts of this try only
            try:
                self._record(plan, chunk, work, outcomes, recorded, now.isoformat(), pace)
                result = recorded
                break
            except RetryableError:
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, RECORD_BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
        waits = [o.paced for o in outcomes if o.paced]
        if waits:
            raise PacedOut("The rest of the chunk waits for the send quota", retry_after=retry_delay(max(waits)))
        if any(o.retry for o in outcomes):
            raise RetryableError("The provider throttled part of the chunk; it comes back later", code="throttled")
        return result

    # --- steps -------------------------------------------------------------------------------------------------

    def _claim(
        self, plan: CampaignPlan, chunk: RecipientChunk, work: WorkItem, recipients: list[Recipient], now: float
    ) -> Claimed:
        """Claims every recipient in one transaction: `claimed` to send each one the filter includes, a final
        `skipped` record for each one it excludes; the keys held already come back with what holds them."""
        claims = []
        for recipient in recipients:
            key = _send_key(plan, recipient.contact_id)
            item: dict[str, Any] = {
                "pk": key[0],
                "sk": key[1],
                "campaign_id": plan.campaign_id,
                "contact_id": recipient.contact_id,
                "purpose": plan.purpose,
                "channel": plan.channel.value,
                "chunk": chunk.chunk,
                "consent_event_id": recipient.event_id,
                "transactional": plan.transactional,
                "owner": work.owner,
            }
            if isinstance(recipient.decision, Included):
                item |= {
                    "state": CLAIMED,
                    "lease_until": int(now) + LEASE_SECONDS,
                    "gsi1pk": inflight_pk(plan.tenant_id, plan.campaign_id),
                    "gsi1sk": recipient.contact_id,
                }
            else:
                item |= {
                    "state": SKIPPED,
                    "reason": recipient.decision.reason.value,
                    "skipped_at": self._svc.clock().isoformat(),
                }
            claims.append(Claim(key, item))
        return self._repo.claim(claims, work=work, now=int(now))

    def _send_all(
        self,
        plan: CampaignPlan,
        catalog: TenantCatalog,
        signer: LinkSigner,
        to_send: list[Recipient],
        pace: SesPace | None,
        time_left_ms: Callable[[], int],
    ) -> list[_Outcome]:
        if not to_send:
            return []
        if pace is not None:
            return self._send_emails(plan, catalog, signer, to_send, pace, time_left_ms)
        throttled = False

        def one(recipient: Recipient) -> _Outcome:
            nonlocal throttled
            if throttled:
                return _Outcome(recipient, retry=True)
            try:
                return _Outcome(recipient, message_id=self._send_one(plan, catalog, signer, recipient))
            except RecipientRejected as exc:
                return _Outcome(recipient, error=exc.code)
            except OutcomeUnknown:
                return _Outcome(recipient, unconfirmed=True)
            except RetryableError:
                throttled = True
                return _Outcome(recipient, retry=True)

        outcomes = list(self._state.pool.map(one, to_send))
        if throttled:
            self._state.paused_until = time.monotonic() + PAUSE_SECONDS
        return outcomes

    def _send_emails(
        self,
        plan: CampaignPlan,
        catalog: TenantCatalog,
        signer: LinkSigner,
        to_send: list[Recipient],
        pace: SesPace,
        time_left_ms: Callable[[], int],
    ) -> list[_Outcome]:
        """Every message composed, then sent in bulk at the account's pace: calls of up to 50, or of what one second
        of this container's share of the rate allows, each once its tokens are there. What the quota or the
        invocation's time does not allow now is given back, with the wait, for the chunk's next turn."""
        outcomes: dict[int, _Outcome] = {}
        pending: list[tuple[int, tuple[OutgoingEmail, Mapping[str, str]]]] = []
        for index, recipient in enumerate(to_send):
            address, profile = address_of(recipient, plan.channel), recipient.profile
            if address is None or profile is None:  # the filter already excluded these; a guard, not a path
                outcomes[index] = _Outcome(recipient, error="no_address")
                continue
            pending.append((index, self._compose_email(plan, catalog, signer, recipient, address, profile)))
        size = min(BULK_LIMIT, pace.bucket.batch())
        throttled, start = False, 0
        while start < len(pending):
            batch = pending[start : start + min(size, math.floor(max(0.0, pace.daily_left)))]
            wait = self._wait_for_tokens(pace, len(batch), time_left_ms) if batch else MAX_DELAY_SECONDS
            if wait:
                outcomes |= {index: _Outcome(to_send[index], retry=True, paced=wait) for index, _ in pending[start:]}
                break
            answers = self._email.send_bulk([item for _, item in batch])
            for (index, _), answer in zip(batch, answers, strict=True):
                outcomes[index] = _from_bulk(to_send[index], answer)
                pace.sent_since += answer.message_id is not None or answer.unconfirmed
                throttled |= answer.retry
            start += len(batch)
        if throttled:
            self._state.paused_until = time.monotonic() + PAUSE_SECONDS
        return [outcomes[index] for index in range(len(to_send))]

    @staticmethod
    def _wait_for_tokens(pace: SesPace, n: int, time_left_ms: Callable[[], int]) -> float:
        """Waits until `n` messages may go and answers 0, or answers the wait when it is not worth making now:
        longer than MAX_PACE_WAIT_SECONDS, or longer than the invocation has left."""
        while wait := pace.bucket.take(n, time.monotonic()):
            if wait > MAX_PACE_WAIT_SECONDS or wait * 1000 > time_left_ms() - MIN_TIME_LEFT_MS:
                return wait
            time.sleep(wait)
        return 0.0

    def _send_one(self, plan: CampaignPlan, catalog: TenantCatalog, signer: LinkSigner, recipient: Recipient) -> str:
        """One SMS (email goes in bulk, `_send_emails`)."""
        address = address_of(recipient, plan.channel)
        profile = recipient.profile
        if address is None or profile is None:  # the filter already excluded these; a guard, not a path
            raise RecipientRejected("No address", code="no_address")
        tenant = catalog.tenant
        locale = resolve_locale(profile.locale, list(plan.content), tenant.default_locale)
        content = plan.content[locale]
        values: dict[str, str | None] = {
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "tenant": tenant.name,
        }
        text = render(content.text, values).strip()
        if plan.unsubscribe_link:  # the hint in the recipient's own language, whatever the content's
            own = resolve_locale(profile.locale, SUPPORTED_LOCALES, tenant.default_locale)
            text = f"{text}\n{sms_opt_out_hint(catalog, own)}"
        return self._sms.send(address, text, transactional=plan.transactional)

    def _compose_email(
        self,
        plan: CampaignPlan,
        catalog: TenantCatalog,
        signer: LinkSigner,
        recipient: Recipient,
        address: str,
        profile: Any,
    ) -> tuple[OutgoingEmail, dict[str, str]]:
        tenant = catalog.tenant
        locale = resolve_locale(profile.locale, list(plan.content), tenant.default_locale)
        content = plan.content[locale]
        values: dict[str, str | None] = {
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "tenant": tenant.name,
        }
        unsubscribe_url = signer.unsubscribe(
            recipient.contact_id, plan.purpose, Channel.EMAIL, plan.campaign_id, recipient.head
        )
        preference_url = signer.preferences(recipient.contact_id)
        values |= {"unsubscribe_url": unsubscribe_url, "preferences_url": preference_url}
        subject = render(content.subject or plan.name, values, one_line=True)
        text = render(content.text, values)
        html = render(content.html, values, escape_html=True) if content.html else None
        headers = {HEADER_TENANT: plan.tenant_id, HEADER_CAMPAIGN: plan.campaign_id}
        if plan.unsubscribe_link:
            purpose = catalog.purposes.get(plan.purpose)
            purpose_name = (
                (purpose.names.get(locale) or next(iter(purpose.names.values()), plan.purpose))
                if purpose
                else plan.purpose
            )
            footer_text, footer_html = campaign_footer(
                locale if locale in SUPPORTED_LOCALES else tenant.default_locale,
                tenant_name=tenant.name,
                purpose_name=purpose_name,
                unsubscribe_url=unsubscribe_url,
                preference_url=preference_url,
                privacy_policy_url=tenant.privacy_policy_url,
                transactional=plan.transactional,
            )
            text = f"{text.rstrip()}\n{footer_text}"
            html = with_footer(html, footer_html) if html is not None else None
            headers |= list_unsubscribe_headers(unsubscribe_url)
        message = OutgoingEmail(
            sender=formataddr((tenant.name, self._svc.settings.sender_email)),
            to=address,
            subject=subject,
            text=text,
            html=html,
            headers=headers,
        )
        tags = {TAG_TENANT: plan.tenant_id, TAG_CAMPAIGN: plan.campaign_id, TAG_CONTACT: recipient.contact_id}
        return message, tags

    def _record(
        self,
        plan: CampaignPlan,
        chunk: RecipientChunk,
        work: WorkItem,
        outcomes: list[_Outcome],
        result: ChunkResult,
        at: str,
        pace: SesPace | None,
    ) -> None:
        puts: list[dict[str, Any]] = []
        releases = []
        for outcome in outcomes:
            recipient = outcome.recipient
            key = _send_key(plan, recipient.contact_id)
            if outcome.retry:
                releases.append(key)
                result.released += 1
                continue
            record: dict[str, Any] = {
                "pk": key[0],
                "sk": key[1],
                "campaign_id": plan.campaign_id,
                "contact_id": recipient.contact_id,
                "purpose": plan.purpose,
                "channel": plan.channel.value,
                "chunk": chunk.chunk,
                "consent_event_id": recipient.event_id,
                "transactional": plan.transactional,
                "owner": work.owner,
            }
            if outcome.skipped and isinstance(recipient.decision, Excluded):
                record |= {"state": SKIPPED, "reason": recipient.decision.reason.value, "skipped_at": at}
            elif outcome.message_id is not None or outcome.unconfirmed:
                minor = isinstance(recipient.decision, Included) and recipient.decision.minor
                record |= {
                    "state": SENT,
                    "provider": "sns" if plan.channel is Channel.SMS else "ses",
                    "message_id": outcome.message_id,
                    "unconfirmed": outcome.unconfirmed or None,
                    "sent_at": at,
                    "minor": minor or None,
                }
                result.sent += 1
                result.unconfirmed += int(outcome.unconfirmed)
                result.minors += int(minor)
            else:
                record |= {"state": FAILED, "error": outcome.error, "failed_at": at}
                result.failed += 1
            puts.append(record)
        counts = {
            "n_sent": result.sent,
            "n_failed": result.failed,
            "n_skipped": sum(result.skipped.values()),
            "n_minors": result.minors,
            "n_unconfirmed": result.unconfirmed,
            "n_duplicates": result.duplicates,
            **{f"n_skip_{reason}": n for reason, n in result.skipped.items()},
        }
        snapshot = None if pace is None else _pace_snapshot(pace, at)
        self._repo.record_once(
            plan.tenant_id, plan.campaign_id, counts, work=work, puts=puts, deletes=releases, pace=snapshot
        )


def _send_key(plan: CampaignPlan, contact_id: str) -> Key:
    """The key of the contact's send claim, then record, for the campaign."""
    return contact_pk(plan.tenant_id, contact_id), send_sk(plan.campaign_id)


def _pace_snapshot(pace: SesPace, at: str) -> dict[str, Any]:
    """The account's pace as this sender sees it, kept on the campaign for its ETA (`campaign_view`); whole numbers,
    as the table stores no floats."""
    return {
        "max_send_rate": max(1, round(pace.quota.max_send_rate)),
        "max_24_hour_send": round(pace.quota.max_24_hour_send),
        "sent_last_24_hours": round(pace.quota.sent_last_24_hours) + pace.sent_since,
        "at": at,
    }


def _from_bulk(recipient: Recipient, answer: BulkOutcome) -> _Outcome:
    return _Outcome(
        recipient,
        message_id=answer.message_id,
        error=answer.rejected,
        retry=answer.retry,
        unconfirmed=answer.unconfirmed,
    )


def keys_signer(svc: Services, catalog: TenantCatalog, plan: CampaignPlan, keys: TenantKeys) -> LinkSigner:
    base_url = (plan.base_url or svc.settings.public_base_url).rstrip("/")
    return LinkSigner.of(catalog, keys, base_url)


def sms_opt_out_hint(catalog: TenantCatalog, locale: str) -> str:
    """The tenant's own opt-out hint for the locale, else the standard one."""
    return catalog.tenant.sms_opt_out_hints.get(locale) or messages(locale)["sms_opt_out_hint"]
