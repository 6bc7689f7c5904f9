"""Inbound SMS from every provider (Twilio, Vonage, AWS End User Messaging): STOP, START and HELP.

One service for all three entry points. For a message that is a keyword (`domain/sms_keywords.py`):
- **opt-out** withdraws the sender's SMS consents (every SMS purpose, or the keyword's one purpose) through
  `Ledger.write`, with the suppression of the number (reason `sms_stop`) in the same transaction. A number that
  belongs to no contact is suppressed all the same, on its blind-indexed address item, so a later import or
  signup cannot message it.
- **opt-in** lifts the `sms_stop` suppressions that the keyword covers and grants again the SMS consents that
  the contact had withdrawn (or the keyword's purpose), with source `sms-keyword`.
- **help** only answers.
The log's actor is the provider (`sms_provider`, id = provider) on behalf of the contact; the evidence holds the
keyword, the provider's message id and the time.

Each provider message id is processed once. Its receipt (`adapters/sms_repository.inbound_receipt`, kept 3 days)
is written only if absent, in the same transaction as the message's effect: the consent change with its
suppressions, or the address's suppressions alone. A redelivery therefore changes nothing, even after a later
START, and gets the same reply. This is our own receipt rather than powertools' idempotency utility, which would
add two writes (claim, then complete) to the one a STOP needs, and could not commit with it.

Everything that can refuse a message (unknown tenant, malformed number) is checked before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from samtykke.adapters.crypto import TenantKeys
from samtykke.adapters.repository import AlreadyApplied, SuppressionChange
from samtykke.adapters.secrets import SecretBox, SecretUnreadable
from samtykke.adapters.sms_repository import SmsRepository, inbound_receipt
from samtykke.domain.addresses import normalise_phone
from samtykke.domain.age import is_minor
from samtykke.domain.consent import (
    ActorType,
    AddressKind,
    Channel,
    ConsentStatus,
    EventType,
    LegalBasis,
    can_confirm,
    capture_status,
)
from samtykke.domain.defaults import SUPPORTED_LOCALES, resolve_locale
from samtykke.domain.errors import Forbidden, NotFound, RetryableError, SamtykkeError
from samtykke.domain.sms_keywords import KeywordAction, KeywordMatch, match_keyword, with_provider_verdict
from samtykke.domain.sms_signatures import (
    VonageSignatureMethod,
    verify_twilio,
    verify_vonage,
    vonage_timestamp_fresh,
)
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.models.catalog import Purpose
from samtykke.models.consent import Actor, Evidence, TextRef
from samtykke.models.sms import AwsInboundSms, SmsProvider
from samtykke.observability import logger
from samtykke.services.catalog import CONFIG_COUNTER, TenantCatalog
from samtykke.services.context import Services, services
from samtykke.services.ledger import (
    ContactNotFound,
    ContactTarget,
    Decide,
    Ledger,
    LoadedContact,
    PhoneHead,
    StateChange,
)
from samtykke.services.sms_config import SmsConfig, SmsConfigCache, inbound_number, secret_name
from samtykke.templates import messages

SOURCE = "sms-keyword"
# AWS End User Messaging writes numbers in E.164, so the country only matters for a malformed one.
DEFAULT_NUMBER_COUNTRY = "DK"
RECEIPT_SECONDS = 3 * 24 * 3600  # longer than any provider retries a delivery
SMS_ALL = suppression_key(Channel.SMS)
PHONE = AddressKind.PHONE


class SignatureMissing(Forbidden):
    code = "signature_missing"


class InvalidSignature(Forbidden):
    code = "invalid_signature"


class StaleTimestamp(Forbidden):
    code = "stale_timestamp"


class ProviderNotConfigured(Forbidden):
    code = "sms_provider_not_configured"


class UnknownNumber(NotFound):
    code = "unknown_destination_number"


@dataclass(frozen=True)
class InboundSms:
    """One inbound message, whichever provider delivered it."""

    provider: SmsProvider
    tenant_id: str
    message_id: str
    sender: str
    body: str
    sent_at: datetime | None = None
    opt_out_type: str | None = None  # Twilio Advanced Opt-Out's own verdict: STOP, START or HELP


@dataclass(frozen=True)
class SmsOutcome:
    action: KeywordAction
    reply: str | None  # the localised confirmation to send back, if any
    events: int = 0  # consent-log events written
    redelivery: bool = False  # the message was processed before, so nothing changed now


@dataclass(frozen=True)
class SignedTenant:
    """The tenant's catalog as a webhook's signature check used it. `counter_at` is set when that was the one
    this container holds, unchecked: a write may then assert that counter instead of reading it."""

    catalog: TenantCatalog
    counter_at: int | None = None


@dataclass(frozen=True)
class _Plan:
    message: InboundSms
    match: KeywordMatch
    phone: str
    catalog: TenantCatalog
    keys: TenantKeys


@dataclass
class _Effect:
    events: int = 0
    locale: str | None = None


@dataclass
class SmsInbox:
    """The inbound-SMS use cases, with the per-container caches they keep. `sms_inbox()` builds the real one."""

    svc: Services
    config: SmsConfigCache = field(init=False)

    def __post_init__(self) -> None:
        self.config = SmsConfigCache(SmsRepository(self.svc.settings.table_name))

    # --- signatures ---------------------------------------------------------------------------------

    def _tenant(self, tenant_id: str, *, fresh: bool) -> SignedTenant:
        held = None if fresh else self.svc.catalogs.held_at(tenant_id)
        if held is not None:
            return SignedTenant(*held)
        return SignedTenant(self.svc.catalogs.get(tenant_id))

    def _provider_secret(
        self, tenant_id: str, provider: SmsProvider, *, fresh: bool
    ) -> tuple[str, SmsConfig, SignedTenant]:
        signed = self._tenant(tenant_id, fresh=fresh)
        catalog = signed.catalog
        config = self.config.get(tenant_id, fresh=fresh)
        item = config.providers.get(provider.value)
        if item is None:
            if not fresh:
                return self._provider_secret(tenant_id, provider, fresh=True)
            raise ProviderNotConfigured(f"This tenant has no {provider.value} secret")
        box = SecretBox(self.svc.keyring.tenant_keys(tenant_id, catalog.root_key_blob))
        try:
            return box.open(secret_name(provider.value), item["sealed_secret"]), config, signed
        except SecretUnreadable as exc:
            raise ProviderNotConfigured(f"This tenant's {provider.value} secret cannot be read; set it again") from exc

    def verify_twilio(
        self,
        tenant_id: str,
        url: str,
        params: dict[str, list[str]],
        signature: str | None,
        signature_settings: str | None,
    ) -> SignedTenant:
        """The tenant's catalog as this request's signature check used it: `receive` goes on with it."""
        if not signature:
            raise SignatureMissing("X-Twilio-Signature is missing")
        for fresh in (False, True):  # a secret rotated in the last seconds: reload once before refusing
            token, _, signed = self._provider_secret(tenant_id, SmsProvider.TWILIO, fresh=fresh)
            if verify_twilio(token, url, params, signature, signature_settings=signature_settings):
                return signed
        raise InvalidSignature("X-Twilio-Signature does not match this request")

    def verify_vonage(self, tenant_id: str, params: dict[str, str], now: float) -> SignedTenant:
        """As `verify_twilio`, for Vonage's signed webhooks."""
        if not params.get("sig"):
            raise SignatureMissing("The webhook is not signed (no `sig`)")
        for fresh in (False, True):
            secret, config, signed = self._provider_secret(tenant_id, SmsProvider.VONAGE, fresh=fresh)
            method = VonageSignatureMethod(
                config.providers[SmsProvider.VONAGE.value].get("signature_method", "md5hash")
            )
            if verify_vonage(secret, params, method):
                break
        else:
            raise InvalidSignature("`sig` does not match this request")
        if not vonage_timestamp_fresh(params.get("timestamp"), now):
            raise StaleTimestamp("The signed timestamp is too old, or in the future")
        return signed

    def tenant_for_number(self, destination: str) -> str:
        """The tenant an inbound number (E.164) is registered to."""
        tenant_id = self.config.repo.tenant_for_number(destination)
        if tenant_id is None:
            raise UnknownNumber("No tenant has registered that number")
        return tenant_id

    # --- the effect ---------------------------------------------------------------------------------

    def receive(self, message: InboundSms, signed: SignedTenant | None = None) -> SmsOutcome:
        """Applies a verified inbound message. Every check that can refuse it runs before any write. `signed` is
        the catalog the request's signature check used, if it made one; otherwise it is read here."""
        if signed is not None and signed.counter_at is not None:
            outcome = self._stop_on_copy(message, signed.catalog, signed.counter_at)
            if outcome is not None:
                return outcome
        if signed is not None and signed.counter_at is None:
            catalog = signed.catalog
        else:
            catalog = self.svc.catalogs.get(message.tenant_id)
        plan = self._plan(message, catalog)
        match = plan.match
        if match.action is KeywordAction.NONE:
            return SmsOutcome(KeywordAction.NONE, None)
        if match.action is KeywordAction.HELP:
            return SmsOutcome(KeywordAction.HELP, self._reply(plan, self._contact_locale(plan)))
        apply = {KeywordAction.OPT_OUT: self._opt_out, KeywordAction.CONFIRM: self._confirm}.get(
            match.action, self._opt_in
        )
        try:
            effect = apply(plan)
        except AlreadyApplied:
            return SmsOutcome(match.action, self._reply(plan, self._contact_locale(plan)), redelivery=True)
        return SmsOutcome(match.action, self._reply(plan, effect.locale), effect.events)

    def _plan(self, message: InboundSms, catalog: TenantCatalog) -> _Plan:
        config = self.config.get(message.tenant_id)
        return _Plan(
            message=message,
            match=with_provider_verdict(match_keyword(message.body, config.tenant_keywords()), message.opt_out_type),
            phone=normalise_phone(message.sender, catalog.tenant.country),
            catalog=catalog,
            keys=self.svc.keyring.tenant_keys(message.tenant_id, catalog.root_key_blob),
        )

    def _stop_on_copy(self, message: InboundSms, catalog: TenantCatalog, counter: int) -> SmsOutcome | None:
        """A STOP in two calls: the number's address item, whose copy of its contact's head decides the withdrawals,
        and one transaction written on that copy under the configuration this container holds (`counter`).

        None, having written nothing, when the message is no STOP, the number has no copy to decide on or nothing
        to withdraw, or the copy or the configuration moved on: `receive` then goes the usual way.
        """
        plan = self._plan(message, catalog)
        if plan.match.action is not KeywordAction.OPT_OUT:
            return None
        blind = plan.keys.blind_index(PHONE.value, plan.phone)
        address = self._address(plan, blind) or {}
        copied, contact_id = PhoneHead.from_item(address.get("head")), address.get("contact_id")
        if copied is None or contact_id is None:
            return None
        changes = _stop_withdrawals(plan.match.purpose, copied.sms)
        if not changes:
            return None
        stop = self._stop_suppression(plan)
        try:
            recorded = Ledger(self.svc, plan.keys).withdraw_on_hint(
                contact_id,
                copied.hint(blind),
                PHONE,
                changes,
                [(PHONE, stop.key, stop.record)],
                self._actor(plan),
                self._evidence(plan),
                counter_at=(CONFIG_COUNTER, counter),
                receipt=self._receipt(plan),
                copied=copied,
            )
        except AlreadyApplied:
            return SmsOutcome(KeywordAction.OPT_OUT, self._reply(plan, copied.locale), redelivery=True)
        if recorded is None:
            return None
        return SmsOutcome(KeywordAction.OPT_OUT, self._reply(plan, copied.locale), len(recorded))

    def _opt_out(self, plan: _Plan) -> _Effect:
        blind = plan.keys.blind_index(PHONE.value, plan.phone)

        def withdraw(current: LoadedContact) -> list[StateChange]:
            sms = {p: (s.status, s.text) for (p, channel), s in current.states.items() if channel is Channel.SMS}
            return _stop_withdrawals(plan.match.purpose, sms)

        return self._apply(plan, blind, self._address(plan, blind), [self._stop_suppression(plan)], withdraw)

    def _stop_suppression(self, plan: _Plan) -> SuppressionChange:
        return SuppressionChange(suppression_key(Channel.SMS, plan.match.purpose), self._suppression_record(plan))

    def _opt_in(self, plan: _Plan) -> _Effect:
        blind = plan.keys.blind_index(PHONE.value, plan.phone)
        address = self._address(plan, blind)
        current: dict[str, dict[str, Any]] = (address or {}).get("suppressions") or {}
        stopped = {k for k, r in current.items() if k.startswith(f"{Channel.SMS.value}#") and _is_sms_stop(r)}
        scope = plan.match.purpose
        changes: list[SuppressionChange] = []
        if scope is None:
            changes = [SuppressionChange(key, None) for key in sorted(stopped)]
        else:
            changes = [
                SuppressionChange(key, None) for key in (suppression_key(Channel.SMS, scope), SMS_ALL) if key in stopped
            ]
            if SMS_ALL in stopped:  # "START NEWS" after "STOP": everything else stays stopped
                changes += [
                    SuppressionChange(key, current[SMS_ALL])
                    for purpose in self._sms_purposes(plan.catalog)
                    if purpose.purpose_id != scope
                    and (key := suppression_key(Channel.SMS, purpose.purpose_id)) not in current
                ]

        def grant(contact: LoadedContact) -> list[StateChange]:
            minor = is_minor(contact.profile.birth_date, plan.catalog.tenant.country, self.svc.clock().date())
            return self._grants(plan, contact, minor) + self._confirmations(plan, contact)

        return self._apply(plan, blind, address, changes, grant)

    def _confirm(self, plan: _Plan) -> _Effect:
        """JA: the number's owner confirms its pending SMS double opt-ins; suppressions stay as they are."""
        blind = plan.keys.blind_index(PHONE.value, plan.phone)
        return self._apply(plan, blind, self._address(plan, blind), [], lambda c: self._confirmations(plan, c))

    @staticmethod
    def _confirmations(plan: _Plan, contact: LoadedContact) -> list[StateChange]:
        scope = plan.match.purpose
        return [
            StateChange(
                purpose_id,
                Channel.SMS,
                EventType.CONFIRM,
                ConsentStatus.GRANTED,
                state.legal_basis,
                state.source,
                state.text,
            )
            for (purpose_id, channel), state in sorted(contact.states.items())
            if channel is Channel.SMS and (scope is None or purpose_id == scope) and can_confirm(state.status)
        ]

    def _apply(
        self,
        plan: _Plan,
        blind: str,
        address: dict[str, Any] | None,
        changes: list[SuppressionChange],
        decide: Decide,
    ) -> _Effect:
        """The message's effect with its receipt: the consent change of the number's contact, if it has one, and
        the number's suppression changes. Both go in one transaction when the number is the contact's own."""
        tenant_id = plan.catalog.tenant.tenant_id
        receipt = self._receipt(plan)
        contact = self._owner(plan, address)
        locale = None
        if contact is not None:
            if contact.blind_indexes.get(PHONE) != blind:
                # The number still points at a contact whose own number is now another: its suppressions first.
                self.svc.repo.change_address_suppressions(tenant_id, PHONE.value, blind, changes)
                changes = []
            target = ContactTarget(
                contact_id=contact.contact_id,
                loaded=contact,
                suppressions=[(PHONE, change.key, change.record) for change in changes],
                receipt=receipt,
            )
            result = Ledger(self.svc, plan.keys).write(target, decide, self._actor(plan), self._evidence(plan))
            locale = result.contact.profile.locale
            if result.events:
                return _Effect(len(result.events), locale)
        self.svc.repo.change_address_suppressions(tenant_id, PHONE.value, blind, changes, receipt)
        return _Effect(0, locale)

    def _grants(self, plan: _Plan, contact: LoadedContact, minor: bool) -> list[StateChange]:
        scope = plan.match.purpose
        changes = []
        for (purpose_id, channel), state in sorted(contact.states.items()):
            if channel is not Channel.SMS or (scope is not None and purpose_id != scope):
                continue
            purpose = plan.catalog.purposes.get(purpose_id)
            if state.status is ConsentStatus.WITHDRAWN and _messages_by_sms(purpose):
                changes.append(self._grant(purpose_id, minor, state.text, purpose))
        if scope is not None and (scope, Channel.SMS) not in contact.states:
            purpose = plan.catalog.purposes.get(scope)
            if _messages_by_sms(purpose):
                changes.append(self._grant(scope, minor, self._current_text(plan, scope, contact), purpose))
        return changes

    @staticmethod
    def _grant(purpose_id: str, minor: bool, text: TextRef | None, purpose: Purpose | None) -> StateChange:
        # The number's own START is the proof its owner asked: no confirmation SMS needed.
        status = capture_status(channel=Channel.SMS, double_opt_in=False, is_minor=minor)
        return StateChange(purpose_id, Channel.SMS, EventType.GRANT, status, LegalBasis.CONSENT, SOURCE, text)

    @staticmethod
    def _current_text(plan: _Plan, purpose_id: str, contact: LoadedContact) -> TextRef | None:
        catalog = plan.catalog
        locales = catalog.text_locales(purpose_id)
        if not locales:
            return None
        locale = resolve_locale(contact.profile.locale, locales, catalog.tenant.default_locale)
        text = catalog.text(purpose_id, locale)
        if text is None:
            return None
        return TextRef(purpose_id=purpose_id, locale=text.locale, version=text.version, sha256=text.sha256)

    # --- helpers ------------------------------------------------------------------------------------

    def _address(self, plan: _Plan, blind: str) -> dict[str, Any] | None:
        """The number's address item: the contact it belongs to, if any, and its suppressions."""
        return self.svc.repo.get_address(plan.catalog.tenant.tenant_id, PHONE.value, blind)

    def _owner(self, plan: _Plan, address: dict[str, Any] | None) -> LoadedContact | None:
        """The contact the number belongs to, if any (an erased contact counts as none)."""
        contact_id = address.get("contact_id") if address else None
        if contact_id is None:
            return None
        try:
            return Ledger(self.svc, plan.keys).load(contact_id)
        except ContactNotFound:
            return None

    def _contact_locale(self, plan: _Plan) -> str | None:
        contact = self._owner(plan, self._address(plan, plan.keys.blind_index(PHONE.value, plan.phone)))
        return contact.profile.locale if contact else None

    @staticmethod
    def _sms_purposes(catalog: TenantCatalog) -> list[Purpose]:
        return [p for p in catalog.purposes.values() if Channel.SMS in p.channels]

    def _receipt(self, plan: _Plan) -> dict[str, Any]:
        """The message's receipt: written with its effect, so that a redelivery changes nothing."""
        return inbound_receipt(
            plan.catalog.tenant.tenant_id,
            plan.message.provider.value,
            plan.message.message_id,
            plan.match.action.value,
            self.svc.clock(),
            RECEIPT_SECONDS,
        )

    def _actor(self, plan: _Plan) -> Actor:
        return Actor(type=ActorType.SMS_PROVIDER, id=plan.message.provider.value, on_behalf_of=ActorType.CONTACT)

    def _evidence(self, plan: _Plan) -> Evidence:
        keyword = plan.match.keyword
        return Evidence(
            at=plan.message.sent_at or self.svc.clock(),
            note=f"SMS keyword received through {plan.message.provider.value}",
            keyword=keyword.text if keyword else None,
            provider_message_id=plan.message.message_id,
        )

    def _suppression_record(self, plan: _Plan) -> dict[str, Any]:
        keyword = plan.match.keyword
        return {
            "reason": SuppressionReason.SMS_STOP.value,
            "at": self.svc.clock().isoformat(),
            "source": SOURCE,
            "provider": plan.message.provider.value,
            "keyword": keyword.text if keyword else None,
        }

    def _reply(self, plan: _Plan, contact_locale: str | None) -> str | None:
        if plan.message.opt_out_type:  # Twilio's Advanced Opt-Out has sent its own confirmation already
            return None
        tenant = plan.catalog.tenant
        locale = resolve_locale(contact_locale or plan.match.locale, SUPPORTED_LOCALES, tenant.default_locale)
        m = messages(locale)
        kind = {
            KeywordAction.OPT_OUT: "stop",
            KeywordAction.OPT_IN: "start",
            KeywordAction.CONFIRM: "confirm",
            KeywordAction.HELP: "help",
        }[plan.match.action]
        purpose = plan.catalog.purposes.get(plan.match.purpose) if plan.match.purpose else None
        if purpose is not None and kind != "help":
            name = purpose.names.get(locale) or purpose.names.get("en") or purpose.purpose_id
            return m[f"sms_{kind}_scoped_reply"].format(tenant=tenant.name, purpose=name)
        return m[f"sms_{kind}_reply"].format(tenant=tenant.name)


def _stop_withdrawals(scope: str | None, sms: dict[str, tuple[ConsentStatus, TextRef | None]]) -> list[StateChange]:
    """STOP (or STOP for one purpose): every SMS consent in scope that is not withdrawn yet is withdrawn."""
    return [
        StateChange.withdrawal(purpose, Channel.SMS, SOURCE, text)
        for purpose, (status, text) in sorted(sms.items())
        if (scope is None or purpose == scope) and status is not ConsentStatus.WITHDRAWN
    ]


def _is_sms_stop(record: Any) -> bool:
    return isinstance(record, dict) and record.get("reason") == SuppressionReason.SMS_STOP.value


def _messages_by_sms(purpose: Purpose | None) -> bool:
    return purpose is not None and purpose.active and Channel.SMS in purpose.channels


def receive_end_user_messaging(inbox: SmsInbox, message: str, published_at: str | None) -> dict[str, Any]:
    """One SNS notification from AWS End User Messaging two-way SMS.

    A message that can never succeed (malformed, an unregistered number, a malformed sender) is logged with its
    code and dropped, since retrying cannot help; a transient fault raises, so that Lambda retries the delivery.
    """
    try:
        inbound = AwsInboundSms.model_validate_json(message)
    except ValidationError:
        logger.warning("Inbound SMS notification is malformed", extra={"error_code": "malformed_message"})
        return {"status": 400, "code": "malformed_message"}
    try:
        tenant_id = inbox.tenant_for_number(inbound_number(inbound.destinationNumber, DEFAULT_NUMBER_COUNTRY))
        outcome = inbox.receive(
            InboundSms(
                provider=SmsProvider.AWS,
                tenant_id=tenant_id,
                message_id=inbound.inboundMessageId,
                sender=inbound.originationNumber,
                body=inbound.messageBody,
                sent_at=_published(published_at),
            )
        )
    except RetryableError:
        raise
    except SamtykkeError as exc:
        logger.warning(
            "Inbound SMS refused",
            extra={"error_code": exc.code, "provider_message_id": inbound.inboundMessageId},
        )
        return {"status": exc.status, "code": exc.code}
    return {
        "status": 200,
        "action": outcome.action.value,
        "events": outcome.events,
        "redelivery": outcome.redelivery,
    }


def _published(timestamp: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(timestamp) if timestamp else None
    except ValueError:
        return None


_inbox: list[SmsInbox] = []


def sms_inbox() -> SmsInbox:
    """The container's inbox, built once for the container's `services()` (and again whenever those are rebuilt)."""
    svc = services()
    if not _inbox or _inbox[0].svc is not svc:
        _inbox[:] = [SmsInbox(svc)]
    return _inbox[0]
