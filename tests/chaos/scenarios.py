"""The four chaos scenarios of issue 14. Each runs with the faults armed and returns what it found, from moto itself.

Each finding counts what must be zero: `duplicates` (a second message to anyone), `lost` (an eligible recipient
without their message, an unsubscribe or STOP not in effect, an import row missing), `stuck` (a campaign or import
that did not finish, a claim left in flight, wrong counts), `after_withdrawal` (a message sent after its recipient's
withdrawal had committed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from twilio.request_validator import RequestValidator

from samtykke.domain.consent import Channel
from samtykke.models.campaign import CampaignCreate
from samtykke.services.context import services
from samtykke.services.links import LinkSigner
from tests.chaos.harness import Chaos, call, concurrently, sent_to
from tests.integration.campaign_support import Person, seed

EXAMPLE: dict[str, Any] = CampaignCreate.model_config["json_schema_extra"]["example"]  # type: ignore[index]
TWILIO_TOKEN = "chaos0twilio0auth0token012345678"
RECONCILE_ROUNDS = 6


@dataclass
class Finding:
    scenario: str
    size: int
    messages: int = 0
    duplicates: int = 0
    lost: int = 0
    stuck: int = 0
    after_withdrawal: int = 0
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def clean(self) -> bool:
        return not (self.duplicates or self.lost or self.stuck or self.after_withdrawal)


def _people(prefix: str, n: int, **kwargs: Any) -> list[Person]:
    return [Person(email=f"{prefix}{i}@chaos.example", first_name=f"C{i}", **kwargs) for i in range(n)]


def _unsubscribe_path(chaos: Chaos, person: Person, campaign_id: str) -> str:
    signer = LinkSigner.for_tenant(services(), chaos.tenant_id, chaos.stack.api_url)
    url = signer.unsubscribe(person.contact_id, "e-marketing", Channel.EMAIL, campaign_id)
    return "/u/" + url.rsplit("/", 1)[-1]


def _one_click(chaos: Chaos, path: str) -> int:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return call(chaos.public, "POST", path, content="List-Unsubscribe=One-Click", headers=headers).status_code


def _campaign(chaos: Chaos, campaign_id: str) -> dict[str, Any]:
    response = call(chaos.admin, "GET", f"/v1/admin/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _finish_campaign(chaos: Chaos, campaign_id: str) -> dict[str, Any]:
    """Lets the send run out, then reconciles until the campaign is done (or the rounds run out)."""
    view: dict[str, Any] = {}
    for _ in range(RECONCILE_ROUNDS):
        chaos.settle()
        call(chaos.admin, "POST", f"/v1/admin/campaigns/{campaign_id}/reconcile")
        chaos.settle()
        view = _campaign(chaos, campaign_id)
        if view["status"] == "done":
            return view
    return view


def campaign_with_withdrawals(chaos: Chaos, size: int, withdrawals: int) -> Finding:
    """A campaign to `size` subscribers, `withdrawals` of whom unsubscribe (one-click) while it is being sent."""
    finding = Finding("campaign with withdrawals during the send", size)
    people = _people("camp", size)
    seed(services(), chaos.tenant_id, people)
    created = call(chaos.admin, "POST", "/v1/admin/campaigns", json={**EXAMPLE, "segment": None})
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign_id"]
    quitters = random.Random(14).sample(people, withdrawals)
    paths = {p.contact_id: _unsubscribe_path(chaos, p, campaign_id) for p in quitters}
    withdrawn_at: dict[str, datetime] = {}
    started = time.monotonic()

    def withdraw_during_the_send() -> None:
        for person in quitters:
            time.sleep(0.05)
            if _one_click(chaos, paths[person.contact_id]) == 200:
                withdrawn_at[person.contact_id] = datetime.now().astimezone()  # committed by now, for certain

    with chaos.faults():
        sent = call(chaos.admin, "POST", f"/v1/admin/campaigns/{campaign_id}/send")
        assert sent.status_code in (202, 409), sent.text  # 409: our own retry met the send it had started
        withdrawer = threading.Thread(target=withdraw_during_the_send)
        withdrawer.start()
        withdrawer.join()
        view = _finish_campaign(chaos, campaign_id)
    finding.seconds = round(time.monotonic() - started, 1)

    received = sent_to(campaign_id)
    records = {
        item["contact_id"]: item
        for item in chaos.table_items(f"T#{chaos.tenant_id}#C#")
        if item["sk"] == f"MSG#{campaign_id}"
    }
    finding.messages = sum(received.values())
    finding.duplicates = sum(n - 1 for n in received.values() if n > 1)
    for person in people:
        got = received.get((person.email or "").lower(), 0)
        record = records.get(person.contact_id, {})
        if person.contact_id in withdrawn_at:
            # The sender decided (and stamped `sent_at`) after the withdrawal's 200: it must not have sent.
            decided = datetime.fromisoformat(record["sent_at"]) if got and record.get("sent_at") else None
            if decided is not None and decided > withdrawn_at[person.contact_id]:
                finding.after_withdrawal += 1
        elif got == 0:
            finding.lost += 1
    counts = view.get("counts", {})
    unfinished = [r for r in records.values() if r.get("state") == "claimed"]
    accounted = counts.get("sent", 0) + counts.get("skipped", 0) + counts.get("failed", 0)
    finding.stuck = int(view.get("status") != "done") + len(unfinished) + int(accounted != counts.get("queued"))
    finding.stuck += int(counts.get("sent") != finding.messages)  # the counts tell what really went out
    finding.notes = {"withdrawn_during_send": len(withdrawn_at), "counts": counts}
    return finding


def concurrent_unsubscribes(chaos: Chaos, size: int) -> Finding:
    """`size` one-click unsubscribes at once, each retried by its client until it gets an answer below 500."""
    finding = Finding("concurrent one-click unsubscribes", size)
    people = _people("unsub", size)
    seed(services(), chaos.tenant_id, people)
    paths = [_unsubscribe_path(chaos, p, "cmp_chaos") for p in people]
    started = time.monotonic()
    with chaos.faults():
        statuses = concurrently([lambda path=path: _one_click(chaos, path) for path in paths])
    finding.seconds = round(time.monotonic() - started, 1)
    items = chaos.table_items(f"T#{chaos.tenant_id}#")
    finding.lost = sum(1 for s in statuses if s != 200) + _not_withdrawn(chaos, items, people, Channel.EMAIL)
    finding.duplicates = _extra_withdrawals(items, people)
    finding.notes = {"statuses": dict(sorted(_tally(statuses).items()))}
    return finding


def signed_stops(chaos: Chaos, size: int) -> Finding:
    """`size` Twilio STOPs at once, each signed with the tenant's auth token and retried like Twilio retries."""
    finding = Finding("signed SMS STOPs", size)
    assert call(chaos.admin, "PUT", "/v1/admin/settings/sms/twilio", json={"auth_token": TWILIO_TOKEN}).is_success
    people = [Person(phone=phone, channel=Channel.SMS, first_name="S") for phone in _mobile_numbers(size)]
    seed(services(), chaos.tenant_id, people)
    url = f"{chaos.stack.api_url}/v1/webhooks/sms/twilio/{chaos.tenant_id}"
    validator = RequestValidator(TWILIO_TOKEN)

    def stop(person: Person) -> int:
        params = {
            "MessageSid": f"SM{secrets.token_hex(16)}",
            "AccountSid": "AC0123456789abcdef0123456789abcdef",
            "From": person.phone or "",
            "To": "+4570202020",
            "Body": "STOP",
        }
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        return call(chaos.public, "POST", url, data=params, headers=headers).status_code

    started = time.monotonic()
    with chaos.faults():
        statuses = concurrently([lambda person=person: stop(person) for person in people])
    finding.seconds = round(time.monotonic() - started, 1)
    items = chaos.table_items(f"T#{chaos.tenant_id}#")
    finding.lost = sum(1 for s in statuses if s != 200) + _not_withdrawn(chaos, items, people, Channel.SMS)
    finding.duplicates = _extra_withdrawals(items, people)
    finding.notes = {"statuses": dict(sorted(_tally(statuses).items()))}
    return finding


def lawful_import(chaos: Chaos, size: int) -> Finding:
    """A `size`-row import (1% malformed addresses, 1% repeated rows) through the admin API and the import queue."""
    finding = Finding("lawful import", size)
    rows, bad, repeated = [], set(), set()
    for line in range(2, size + 2):  # line 1 is the header
        if line % 100 == 50:
            bad.add(line)
            rows.append([f"not-an-address-{line}", "Bad"])
        elif line % 100 == 75:
            repeated.add(line)
            rows.append([f"imp{line - 1}@chaos.example", "Again"])
        else:
            rows.append([f"imp{line}@chaos.example", f"I{line}"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "first_name"])
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    request = {
        "declaration": {"source": "import", "legal_basis": "consent", "description": "Chaos run: a declared list."},
        "purposes": ["e-marketing"],
        "file": {"size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    }
    started = time.monotonic()
    with chaos.faults():
        created = call(chaos.admin, "POST", "/v1/admin/imports", json=request)
        assert created.status_code == 201, created.text
        body = created.json()
        upload = body["upload"]
        for _ in range(8):
            if call(chaos.public, "PUT", upload["url"], content=data, headers=upload["headers"]).is_success:
                break
        import_id = body["import_id"]
        start = call(chaos.admin, "POST", f"/v1/admin/imports/{import_id}/start")
        assert start.status_code == 202, start.text
        view: dict[str, Any] = {}
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            view = call(chaos.admin, "GET", f"/v1/admin/imports/{import_id}").json()
            if view["status"] in ("completed", "failed"):
                break
            time.sleep(1)
    finding.seconds = round(time.monotonic() - started, 1)
    counts = view.get("counts", {})
    expected = {"rows": size, "imported": size - len(bad) - len(repeated), "invalid": len(bad)}
    expected["duplicates"] = len(repeated)
    finding.stuck = int(view.get("status") != "completed")
    finding.stuck += sum(1 for name, n in expected.items() if counts.get(name) != n)
    events: dict[str, int] = {}
    for item in chaos.table_items(f"T#{chaos.tenant_id}#C#"):
        if item["sk"].startswith("EVENT#") and item.get("type") == "import":
            events[item["contact_id"]] = events.get(item["contact_id"], 0) + 1
    finding.duplicates = sum(n - 1 for n in events.values() if n > 1)
    finding.lost = max(0, expected["imported"] - len(events))
    finding.messages = len(events)
    finding.notes = {"counts": counts, "expected": expected}
    return finding


def _mobile_numbers(n: int) -> list[str]:
    """`n` valid Danish mobile numbers, the same ones every run."""
    numbers, candidate = [], 20_123_400
    while len(numbers) < n:
        candidate += 7
        number = f"+45{candidate}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            numbers.append(number)
    return numbers


def _tally(values: list[int]) -> dict[int, int]:
    tally: dict[int, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    return tally


def _not_withdrawn(chaos: Chaos, items: list[dict[str, Any]], people: list[Person], channel: Channel) -> int:
    """People whose consent on `channel` is not withdrawn, or whose address is not suppressed for it."""
    withdrawn = {
        item["contact_id"]
        for item in items
        if item["sk"] == f"STATE#e-marketing#{channel.value}" and item.get("status") == "withdrawn"
    }
    suppressed = {
        item.get("contact_id")
        for item in items
        if item["sk"] == "ADDR" and any(key.startswith(f"{channel.value}#") for key in (item.get("suppressions") or {}))
    }
    return sum(1 for p in people if p.contact_id not in withdrawn or p.contact_id not in suppressed)


def _extra_withdrawals(items: list[dict[str, Any]], people: list[Person]) -> int:
    """Withdrawal events beyond one per person (a retried write applied twice)."""
    ours = {p.contact_id for p in people}
    per_contact: dict[str, int] = {}
    for item in items:
        if item["sk"].startswith("EVENT#") and item.get("type") == "withdraw" and item.get("contact_id") in ours:
            per_contact[item["contact_id"]] = per_contact.get(item["contact_id"], 0) + 1
    return sum(n - 1 for n in per_contact.values() if n > 1)
