"""The suppression API: list by reason, look one address up (in the body), lift where the reason allows it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from samtykke.adapters.repository import ConsentRepository
from samtykke.domain.access import Role
from samtykke.domain.consent import Channel
from samtykke.domain.errors import RetryableError
from samtykke.domain.suppression import SuppressionReason, suppression_key
from samtykke.models.tenant import Plan
from samtykke.services import audit
from samtykke.services.context import Services
from tests.integration.conftest import TenantFixture
from tests.integration.rights_support import admin_call
from tests.integration.staff_support import PASSWORD, StaffApi, body_of, code_of, make_staff_factory, use_cheap_scrypt

pytestmark = pytest.mark.integration

LIFT = "/v1/admin/suppressions/lift"
LOOKUP = "/v1/admin/suppressions/lookup"
NOTE = "Mailbox was full in November; the customer says it works again"


@pytest.fixture(autouse=True)
def cheap_scrypt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_scrypt(request, monkeypatch)


@pytest.fixture
def world(
    svc: Services, make_tenant: Callable[..., TenantFixture], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> dict[str, Any]:
    acme = make_tenant("acme", plan=Plan.PLUS)
    other = make_tenant("other", plan=Plan.PLUS)
    api = StaffApi(api_event, invoke)
    make = make_staff_factory(svc)
    people: dict[str, Any] = {"api": api, "acme": acme, "other_tenant": other}
    for tenant_id, role in (("acme", Role.EDITOR), ("acme", Role.AUTHOR), ("other", Role.OWNER)):
        user_id, email = make(tenant_id, role)
        people[f"{tenant_id}_{role.value}"] = api.token(email, PASSWORD)
        people[f"{tenant_id}_{role.value}_id"] = user_id
    started, offset = svc.clock(), [0.0]
    svc.clock = lambda: started + timedelta(seconds=offset[0])

    def tick(seconds: float = 2) -> None:
        offset[0] += seconds

    people["tick"] = tick
    return people


def capture(api_event: Callable[..., dict[str, Any]], invoke: Any, email: str, purposes: list[str]) -> str:
    event = api_event(
        "consent_capture_json",
        json_body={"email": email, "purpose": purposes},
        path="/v1/public/acme/consents",
        path_parameters={"tenant_id": "acme"},
        headers={"origin": None},
    )
    response = invoke("consent_capture", event)
    assert response["statusCode"] == 201, response["body"]
    return str(body_of(response)["contact_id"])


def suppress(svc: Services, email: str, reason: SuppressionReason, purpose: str | None = None, **extra: Any) -> None:
    """As SES feedback, an unsubscribe or the do-not-contact list write it: on the address, by blind index."""
    keys = svc.keyring.tenant_keys("acme", svc.catalogs.get("acme").root_key_blob)
    record = {"reason": reason.value, "at": svc.clock().isoformat(), **extra}
    blind = keys.blind_index("email", email)
    svc.repo.set_address_suppression("acme", "email", blind, suppression_key(Channel.EMAIL, purpose), record)


def lift(world: dict[str, Any], email: str, bearer: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"email": email, "channel": "email", "note": NOTE, **extra}
    return world["api"].admin("POST", LIFT, bearer or world["acme_editor"], json_body=body)  # type: ignore[no-any-return]


def test_a_hard_bounce_is_listed_looked_up_and_lifted_once_by_staff_with_a_note(
    svc: Services, world: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    api: StaffApi = world["api"]
    contact_id = capture(api_event, invoke, "bounced@example.dk", ["sales-and-service"])
    suppress(svc, "bounced@example.dk", SuppressionReason.HARD_BOUNCE, source="ses", detail="Permanent/General")
    suppress(svc, "quit@example.dk", SuppressionReason.UNSUBSCRIBED, purpose="e-marketing", source="unsubscribe-link")
    suppress(svc, "angry@example.dk", SuppressionReason.COMPLAINT, source="ses")

    # The list pages by cursor, shows reasons and no address, and filters by reason and purpose
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = body_of(api.admin("GET", "/v1/admin/suppressions", world["acme_editor"], query=query))
        seen += page["addresses"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(s["reason"] for a in seen for s in a["suppressions"]) == ["complaint", "hard_bounce", "unsubscribed"]
    assert "@example.dk" not in str(seen)
    bounced = next(a for a in seen if a["suppressions"][0]["reason"] == "hard_bounce")
    assert bounced["contact_id"] == contact_id
    assert bounced["suppressions"][0] | {"at": None} == {
        "channel": "email",
        "purpose": None,
        "reason": "hard_bounce",
        "at": None,
        "source": "ses",
        "detail": "Permanent/General",
        "lift_refusal": None,
    }
    only = body_of(api.admin("GET", "/v1/admin/suppressions", world["acme_editor"], query={"purpose": "e-marketing"}))
    assert [a["suppressions"][0]["reason"] for a in only["addresses"]] == ["unsubscribed"]
    every = body_of(api.admin("GET", "/v1/admin/suppressions", world["acme_editor"], query={"purpose": "*"}))
    assert sorted(a["suppressions"][0]["reason"] for a in every["addresses"]) == ["complaint", "hard_bounce"]
    by_reason = {"reason": "complaint", "channel": "email"}
    only = body_of(api.admin("GET", "/v1/admin/suppressions", world["acme_editor"], query=by_reason))
    assert [a["contact_id"] for a in only["addresses"]] == [None]

    # The lookup takes the address in the body and says whether each suppression may be lifted
    found = body_of(api.admin("POST", LOOKUP, world["acme_author"], json_body={"email": "bounced@example.dk"}))
    assert (found["suppressed"], found["contact_id"], found["hash"]) == (True, contact_id, bounced["hash"])
    assert found["suppressions"][0]["lift_refusal"] is None
    assert audit.query(svc, "acme", action="contact.read", contact_id=contact_id)[0]

    # A lift by an editor, with a note, removes it, once; a retry changes nothing and says so
    lifted = lift(world, "bounced@example.dk")
    assert lifted["statusCode"] == 200, lifted["body"]
    assert body_of(lifted) | {"lifted_at": None} == {
        "kind": "email",
        "hash": bounced["hash"],
        "contact_id": contact_id,
        "channel": "email",
        "purpose": None,
        "reason": "hard_bounce",
        "lifted_at": None,
        "lifted_by": world["acme_editor_id"],
        "already_lifted": False,
    }
    again = lift(world, "bounced@example.dk")
    assert (again["statusCode"], body_of(again)["already_lifted"]) == (200, True)
    assert (
        body_of(api.admin("POST", LOOKUP, world["acme_editor"], json_body={"email": "bounced@example.dk"}))[
            "suppressed"
        ]
        is False
    )
    listed = body_of(api.admin("GET", "/v1/admin/suppressions", world["acme_editor"]))
    assert bounced["hash"] not in {a["hash"] for a in listed["addresses"]}

    # Each lift is audited: who, the note, the record before
    entries = audit.query(svc, "acme", action="suppression.lifted")[0]
    assert len(entries) == 2
    first = next(e for e in entries if not e["details"]["already_lifted"])
    assert first["actor"]["id"] == world["acme_editor_id"]
    assert first["contacts"] == [contact_id]
    assert first["details"]["note"] == NOTE
    assert first["changes"][0]["field"] == "suppressions.email#*"
    assert first["changes"][0]["before"]["reason"] == "hard_bounce"
    assert first["changes"][0]["after"] is None


def test_a_complaint_is_never_lifted_without_a_consent_given_after_it(
    svc: Services, world: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    api: StaffApi = world["api"]
    contact_id = capture(api_event, invoke, "angry@example.dk", ["sales-and-service"])
    world["tick"]()
    suppress(svc, "angry@example.dk", SuppressionReason.COMPLAINT, source="ses", detail="abuse")
    world["tick"]()

    refused = lift(world, "angry@example.dk")
    assert (refused["statusCode"], code_of(refused)) == (409, "complaint_needs_new_consent")
    lookup = body_of(api.admin("POST", LOOKUP, world["acme_editor"], json_body={"email": "angry@example.dk"}))
    assert lookup["suppressions"][0]["lift_refusal"] == "complaint_needs_new_consent"
    assert lookup["suppressed"] is True

    # Once the person consents again (here on the phone, recorded by staff), it may be lifted
    grant = {
        "action": "grant",
        "purpose": "e-marketing",
        "channel": "email",
        "source": "phone",
        "note": "Called and asked for the newsletter again after complaining",
    }
    granted = api.admin("POST", f"/v1/admin/contacts/{contact_id}/consents", world["acme_editor"], json_body=grant)
    assert granted["statusCode"] == 201, granted["body"]
    assert lift(world, "angry@example.dk")["statusCode"] == 200


def test_an_unsubscribe_is_lifted_only_by_a_new_grant_and_the_refusal_says_so(
    svc: Services, world: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    capture(api_event, invoke, "quit@example.dk", ["e-marketing"])
    world["tick"]()
    suppress(svc, "quit@example.dk", SuppressionReason.UNSUBSCRIBED, purpose="e-marketing")

    refused = lift(world, "quit@example.dk", purpose="e-marketing")
    assert (refused["statusCode"], code_of(refused)) == (409, "new_grant_required")
    assert "new grant" in body_of(refused)["error"]["message"]


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (SuppressionReason.ERASED, "erasure_not_liftable"),
        (SuppressionReason.DO_NOT_CONTACT, "lift_through_do_not_contact_list"),
    ],
)
def test_an_erasure_or_a_do_not_contact_entry_is_never_lifted_here(
    svc: Services, world: dict[str, Any], reason: SuppressionReason, code: str
) -> None:
    suppress(svc, "gone@example.dk", reason)
    refused = lift(world, "gone@example.dk")
    assert (refused["statusCode"], code_of(refused)) == (409, code)


def test_lifting_needs_the_right_a_staff_member_and_a_suppression_that_is_there(
    svc: Services, world: dict[str, Any], api_event: Callable[..., dict[str, Any]], invoke: Any
) -> None:
    suppress(svc, "bounced@example.dk", SuppressionReason.HARD_BOUNCE)

    author = lift(world, "bounced@example.dk", bearer=world["acme_author"])
    assert (author["statusCode"], code_of(author)) == (403, "permission_denied")
    key = admin_call(
        api_event,
        invoke,
        world["acme"],
        "POST",
        LIFT,
        json_body={"email": "bounced@example.dk", "channel": "email", "note": NOTE},
    )
    assert (key["statusCode"], code_of(key)) == (403, "staff_only")
    wrong_channel = lift(world, "bounced@example.dk", channel="sms")
    assert (wrong_channel["statusCode"], code_of(wrong_channel)) == (422, "channel_not_for_address")
    other_purpose = lift(world, "bounced@example.dk", purpose="e-marketing")
    assert (other_purpose["statusCode"], code_of(other_purpose)) == (404, "not_suppressed")
    no_note = lift(world, "bounced@example.dk", note="")
    assert no_note["statusCode"] == 422
    both = lift(world, "bounced@example.dk", phone="+4520304050")
    assert (both["statusCode"], code_of(both)) == (422, "one_address_required")
    assert audit.query(svc, "acme", action="suppression.lifted")[0] == []
    assert lift(world, "bounced@example.dk")["statusCode"] == 200


def test_another_tenant_neither_sees_nor_lifts_an_address_suppressed_here(svc: Services, world: dict[str, Any]) -> None:
    api: StaffApi = world["api"]
    suppress(svc, "bounced@example.dk", SuppressionReason.HARD_BOUNCE)
    mine = body_of(api.admin("POST", LOOKUP, world["acme_editor"], json_body={"email": "bounced@example.dk"}))

    theirs = body_of(api.admin("POST", LOOKUP, world["other_owner"], json_body={"email": "bounced@example.dk"}))
    assert (theirs["suppressed"], theirs["suppressions"], theirs["contact_id"]) == (False, [], None)
    assert theirs["hash"] != mine["hash"]
    listed = body_of(api.admin("GET", "/v1/admin/suppressions", world["other_owner"]))
    assert listed == {"addresses": [], "next_cursor": None}
    refused = lift(world, "bounced@example.dk", bearer=world["other_owner"])
    assert (refused["statusCode"], code_of(refused)) == (404, "not_suppressed")
    assert mine["hash"] not in refused["body"]
    assert (
        body_of(api.admin("POST", LOOKUP, world["acme_editor"], json_body={"email": "bounced@example.dk"}))[
            "suppressed"
        ]
        is True
    )
    # A cursor of one tenant's list is no cursor for another's
    suppress(svc, "second@example.dk", SuppressionReason.HARD_BOUNCE)
    page = body_of(api.admin("GET", "/v1/admin/suppressions", world["acme_editor"], query={"limit": "1"}))
    foreign = api.admin("GET", "/v1/admin/suppressions", world["other_owner"], query={"cursor": page["next_cursor"]})
    assert (foreign["statusCode"], code_of(foreign)) == (400, "invalid_cursor")


def test_a_lift_whose_answer_was_lost_is_retried_to_the_same_end_and_audited(
    svc: Services, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    suppress(svc, "bounced@example.dk", SuppressionReason.HARD_BOUNCE)
    committed = ConsentRepository.lift_address_suppression

    def lost_answer(self: ConsentRepository, *args: Any) -> bool:
        committed(self, *args)
        raise RetryableError("The answer was lost", code="throttled")

    monkeypatch.setattr(ConsentRepository, "lift_address_suppression", lost_answer)
    first = lift(world, "bounced@example.dk")
    assert first["statusCode"] == 503
    monkeypatch.setattr(ConsentRepository, "lift_address_suppression", committed)

    retried = lift(world, "bounced@example.dk")
    assert (retried["statusCode"], body_of(retried)["already_lifted"]) == (200, True)
    entries = audit.query(svc, "acme", action="suppression.lifted")[0]
    assert [e["details"]["lifted_by"] for e in entries] == [world["acme_editor_id"]]


def test_a_suppression_that_changed_since_it_was_read_is_decided_again(
    svc: Services, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a hard bounce that turns into a complaint between the lift's read and its write
    suppress(svc, "bounced@example.dk", SuppressionReason.HARD_BOUNCE)
    real_get = ConsentRepository.get_address
    reads = [0]

    def complaint_meanwhile(self: ConsentRepository, *args: Any) -> Any:
        item = real_get(self, *args)
        reads[0] += 1
        if reads[0] == 1:
            suppress(svc, "bounced@example.dk", SuppressionReason.COMPLAINT)
        return item

    monkeypatch.setattr(ConsentRepository, "get_address", complaint_meanwhile)
    refused = lift(world, "bounced@example.dk")

    # Then the complaint is not lifted on the strength of the bounce's rule
    assert (refused["statusCode"], code_of(refused)) == (409, "complaint_needs_new_consent")
