"""Signed links, key rotation, the List-Unsubscribe headers, form parsing and the pages' locales: no sockets, no AWS."""

from __future__ import annotations

import email
import email.policy
import os
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest

from samtykke.adapters.crypto import ContactBox, TenantKeys
from samtykke.api.forms import MalformedForm, parse_form
from samtykke.domain import tokens
from samtykke.domain.consent import Channel
from samtykke.domain.defaults import SUPPORTED_LOCALES
from samtykke.domain.errors import NotFound
from samtykke.domain.links import (
    HeadHint,
    LinkKeyRetired,
    LinkUse,
    UnsubscribeClaims,
    accept_language_locale,
    clean_reason,
    key_version_accepted,
    unsubscribe_claims,
)
from samtykke.domain.mail import OutgoingEmail, compose
from samtykke.local.apigw import Router
from samtykke.models.consent import ContactProfile
from samtykke.models.tenant import Tenant
from samtykke.resources import ROUTES
from samtykke.services.catalog import TenantCatalog
from samtykke.services.context import Services
from samtykke.services.ledger import GENESIS_HASH, LoadedContact
from samtykke.services.links import (
    LinkSigner,
    list_unsubscribe_headers,
    preference_link,
    unsubscribe_link,
    verify_preference_token,
    verify_unsubscribe_token,
)
from samtykke.services.unsubscribe import TenantFace, UnsubscribeView, contact_locale
from samtykke.templates import render_page
from samtykke.templates.messages import MESSAGES

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
CONTACT = "con_0193f5ab1234567890abcdef01234567"
BASE = "https://consent.example.test"


def _tenant(tenant_id: str = "acme", **fields: Any) -> Tenant:
    return Tenant(tenant_id=tenant_id, name="Acme A/S", created_at=NOW, **fields)


@dataclass
class FakeCatalogs:
    """The tenant snapshots a container holds: `stored` is the table, `cached` what this container last read."""

    stored: dict[str, Tenant]
    cached: dict[str, Tenant] = field(default_factory=dict)
    reloads: int = 0

    def get(self, tenant_id: str) -> TenantCatalog:
        if tenant_id not in self.cached:
            if tenant_id not in self.stored:
                raise NotFound("No such tenant", code="tenant_not_found")
            self.cached[tenant_id] = self.stored[tenant_id]
            self.reloads += 1
        return TenantCatalog(self.cached[tenant_id], b"", {}, {}, {}, {})

    def invalidate(self, tenant_id: str) -> None:
        """The change counter moved: every container reloads on its next `get`."""
        self.cached.pop(tenant_id, None)

    def forget(self, tenant_id: str) -> None:
        self.cached.pop(tenant_id, None)


@dataclass
class FakeKeyring:
    roots: dict[str, bytes]

    def tenant_keys(self, tenant_id: str, _blob: bytes) -> TenantKeys:
        return TenantKeys(tenant_id, self.roots[tenant_id])


@dataclass
class FakeServices:
    catalogs: FakeCatalogs
    keyring: FakeKeyring
    now: datetime = NOW

    def clock(self) -> datetime:
        return self.now


@pytest.fixture
def svc() -> FakeServices:
    tenants = {"acme": _tenant("acme"), "other": _tenant("other")}
    return FakeServices(FakeCatalogs(tenants), FakeKeyring({t: os.urandom(32) for t in tenants}))


def _as_services(fake: FakeServices) -> Services:
    return cast(Services, fake)


def _signer(fake: FakeServices, tenant_id: str = "acme") -> LinkSigner:
    return LinkSigner.for_tenant(_as_services(fake), tenant_id, BASE)


def _token(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


class TestTokens:
    def test_an_unsubscribe_link_round_trips_and_fits_in_a_url(self, svc: FakeServices) -> None:
        url = _signer(svc).unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "cmp_0193f5ab1234567890abcdef")

        assert url.startswith(f"{BASE}/u/")
        assert len(url) < 250
        assert all(c in string.ascii_letters + string.digits + "-_." for c in _token(url))
        _, claims = verify_unsubscribe_token(_as_services(svc), _token(url))
        assert claims.to_claims() == {
            "t": "acme",
            "c": CONTACT,
            "p": "e-marketing",
            "ch": "email",
            "m": "cmp_0193f5ab1234567890abcdef",
            "k": 1,
        }

    def test_a_preference_link_round_trips_with_an_optional_expiry(self, svc: FakeServices) -> None:
        plain = _signer(svc).preferences(CONTACT)
        expiring = _signer(svc).preferences(CONTACT, expires_at=int(NOW.timestamp()) + 60)

        assert verify_preference_token(_as_services(svc), _token(plain))[1].contact_id == CONTACT
        assert verify_preference_token(_as_services(svc), _token(expiring))[1].expires_at is not None
        svc.now = NOW + timedelta(minutes=2)
        with pytest.raises(tokens.InvalidToken) as expired:
            verify_preference_token(_as_services(svc), _token(expiring))
        assert expired.value.code == "token_expired"
        verify_preference_token(_as_services(svc), _token(plain))  # no expiry: still fine

    def test_two_links_for_the_same_thing_are_identical_and_any_other_differs(self, svc: FakeServices) -> None:
        signer = _signer(svc)
        first = signer.unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1")
        assert first == signer.unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1")
        others = {
            signer.unsubscribe(CONTACT, "e-marketing", Channel.SMS, "m1"),
            signer.unsubscribe(CONTACT, "sales-and-service", Channel.EMAIL, "m1"),
            signer.unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m2"),
        }
        assert first not in others
        assert len(others) == 3

    @pytest.mark.parametrize("position", ["payload", "mac"])
    def test_any_tampering_is_refused(self, svc: FakeServices, position: str) -> None:
        token = _token(_signer(svc).unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1"))
        payload, mac = token.split(".")
        index = 5
        if position == "payload":
            flipped = payload[:index] + ("A" if payload[index] != "A" else "B") + payload[index + 1 :]
            tampered = f"{flipped}.{mac}"
        else:
            tampered = f"{payload}.{mac[:index]}{'A' if mac[index] != 'A' else 'B'}{mac[index + 1 :]}"

        with pytest.raises(tokens.InvalidToken):
            verify_unsubscribe_token(_as_services(svc), tampered)

    def test_a_token_is_good_only_for_its_own_use_and_tenant(self, svc: FakeServices) -> None:
        unsubscribe = _token(_signer(svc).unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1"))
        preferences = _token(_signer(svc).preferences(CONTACT))
        foreign = _token(_signer(svc, "other").unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1"))
        other_keys = TenantKeys("other", svc.keyring.roots["other"])
        claiming_acme = tokens.sign(
            other_keys.signing_key("unsubscribe/k1"), LinkUse.UNSUBSCRIBE, tokens.peek(unsubscribe)
        )

        with pytest.raises(tokens.InvalidToken):
            verify_preference_token(_as_services(svc), unsubscribe)
        with pytest.raises(tokens.InvalidToken):
            verify_unsubscribe_token(_as_services(svc), preferences)
        with pytest.raises(tokens.InvalidToken):
            verify_unsubscribe_token(_as_services(svc), claiming_acme)
        # A genuine link of another tenant verifies only as that tenant's
        assert verify_unsubscribe_token(_as_services(svc), foreign)[1].tenant_id == "other"

    @pytest.mark.parametrize(
        "claims",
        [
            {"c": CONTACT, "p": "e-marketing", "ch": "email", "m": "m", "k": 1},
            {"t": "acme", "c": "someone", "p": "e-marketing", "ch": "email", "m": "m", "k": 1},
            {"t": "acme", "c": CONTACT, "p": "e-marketing", "ch": "fax", "m": "m", "k": 1},
            {"t": "acme", "c": CONTACT, "p": "E MARKETING", "ch": "email", "m": "m", "k": 1},
            {"t": "acme", "c": CONTACT, "p": "e-marketing", "ch": "email", "m": "m", "k": 0},
            {"t": "acme", "c": CONTACT, "p": "e-marketing", "ch": "email", "m": "m", "k": True},
        ],
    )
    def test_claims_of_the_wrong_shape_are_refused_even_when_signed(self, claims: dict[str, Any]) -> None:
        with pytest.raises(tokens.InvalidToken):
            unsubscribe_claims(claims)

    @pytest.mark.parametrize("garbage", ["", ".", "abc", "a.b", "ünïcode.x", "e30.", "W10.AAAA"])
    def test_garbage_is_refused_as_invalid(self, svc: FakeServices, garbage: str) -> None:
        with pytest.raises(tokens.InvalidToken):
            verify_unsubscribe_token(_as_services(svc), garbage)

    def test_signing_refuses_another_tenants_keys_and_odd_message_refs(self, svc: FakeServices) -> None:
        keys = TenantKeys("acme", svc.keyring.roots["acme"])
        common: dict[str, Any] = {"base_url": BASE, "contact_id": CONTACT, "key_version": 1}
        with pytest.raises(ValueError, match="another tenant"):
            unsubscribe_link(keys, tenant_id="other", purpose="p", channel=Channel.EMAIL, message_ref="m", **common)
        with pytest.raises(ValueError, match="message_ref"):
            unsubscribe_link(
                keys, tenant_id="acme", purpose="p", channel=Channel.EMAIL, message_ref="has space", **common
            )
        assert preference_link(keys, tenant_id="acme", **common).startswith(f"{BASE}/p/")


class TestKeyRotation:
    @pytest.mark.parametrize(
        ("version", "current", "valid_until", "accepted"),
        [
            (3, 3, None, True),
            (2, 3, NOW + timedelta(days=1), True),
            (2, 3, NOW, False),  # the grace period ends at that instant
            (2, 3, NOW - timedelta(seconds=1), False),
            (2, 3, None, False),
            (1, 3, NOW + timedelta(days=1), False),  # only the version just before the current one
            (4, 3, NOW + timedelta(days=1), False),  # a version not made yet
        ],
    )
    def test_which_versions_verify(
        self, version: int, current: int, valid_until: datetime | None, accepted: bool
    ) -> None:
        assert key_version_accepted(version, current=current, previous_valid_until=valid_until, now=NOW) is accepted

    def _rotate(self, svc: FakeServices, grace: timedelta) -> None:
        tenant = svc.catalogs.stored["acme"]
        svc.catalogs.stored["acme"] = tenant.model_copy(
            update={
                "link_key_version": tenant.link_key_version + 1,
                "link_key_rotated_at": svc.now,
                "link_key_previous_valid_until": svc.now + grace,
            }
        )

    def test_old_links_verify_within_the_grace_period_and_not_after(self, svc: FakeServices) -> None:
        old = _token(_signer(svc).unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1"))
        self._rotate(svc, timedelta(days=30))
        svc.catalogs.invalidate("acme")
        new = _token(_signer(svc).unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1"))
        assert (tokens.peek(old)["k"], tokens.peek(new)["k"]) == (1, 2)
        assert old != new

        svc.now = NOW + timedelta(days=29, hours=23)
        for token in (old, new):
            verify_unsubscribe_token(_as_services(svc), token)

        svc.now = NOW + timedelta(days=30)
        with pytest.raises(LinkKeyRetired):
            verify_unsubscribe_token(_as_services(svc), old)
        verify_unsubscribe_token(_as_services(svc), new)

    def test_a_container_with_a_stale_snapshot_reloads_for_a_newer_key_but_not_for_a_forgery(
        self, svc: FakeServices
    ) -> None:
        _signer(svc)  # this container has cached version 1
        keys = TenantKeys("acme", svc.keyring.roots["acme"])
        self._rotate(svc, timedelta(days=30))  # another container rotated
        newer = _token(
            unsubscribe_link(
                keys,
                base_url=BASE,
                tenant_id="acme",
                contact_id=CONTACT,
                purpose="e-marketing",
                channel=Channel.EMAIL,
                message_ref="m1",
                key_version=2,
            )
        )
        payload, mac = newer.split(".")
        reloads = svc.catalogs.reloads

        with pytest.raises(tokens.InvalidToken):
            verify_unsubscribe_token(_as_services(svc), f"{payload}.{'A' * len(mac)}")
        assert svc.catalogs.reloads == reloads
        verify_unsubscribe_token(_as_services(svc), newer)
        assert svc.catalogs.reloads == reloads + 1

    def test_a_rotation_without_grace_stops_old_links_at_once_in_a_container_with_a_stale_snapshot(
        self, svc: FakeServices
    ) -> None:
        # Given a container that verified a link (and so holds a snapshot of version 1)
        old = _token(_signer(svc).unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "m1"))
        verify_unsubscribe_token(_as_services(svc), old)
        # When another container rotates the key with no grace (the rotation moves the tenant's change counter,
        # which this container checks on its next use)
        self._rotate(svc, timedelta(0))
        svc.catalogs.invalidate("acme")
        # Then the old link is refused here too, at once
        with pytest.raises(LinkKeyRetired):
            verify_unsubscribe_token(_as_services(svc), old)

    def test_a_second_rotation_retires_the_first_key_at_once(self, svc: FakeServices) -> None:
        first = _token(_signer(svc).preferences(CONTACT))
        self._rotate(svc, timedelta(days=30))
        self._rotate(svc, timedelta(days=30))
        svc.catalogs.invalidate("acme")

        with pytest.raises(LinkKeyRetired) as retired:
            verify_preference_token(_as_services(svc), first)
        assert (retired.value.code, retired.value.status) == ("link_expired", 400)


class TestListUnsubscribeHeaders:
    def test_https_one_click(self) -> None:
        assert list_unsubscribe_headers("https://c.example/u/abc.def") == {
            "List-Unsubscribe": "<https://c.example/u/abc.def>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    @pytest.mark.parametrize("mailto", ["unsubscribe@example.com", "mailto:unsubscribe@example.com"])
    def test_with_a_mailto(self, mailto: str) -> None:
        headers = list_unsubscribe_headers("https://c.example/u/abc.def", mailto)
        assert headers["List-Unsubscribe"] == "<https://c.example/u/abc.def>, <mailto:unsubscribe@example.com>"

    @pytest.mark.parametrize(
        ("url", "mailto"),
        [
            ("javascript:alert(1)", None),
            ("https://c.example/u/a>b", None),
            ("https://c.example/u/a\r\nBcc: x@example.com", None),
            ("https://c.example/u/ok", "a@example.com>, <https://evil.example"),
        ],
    )
    def test_refuses_what_would_break_or_inject_the_header(self, url: str, mailto: str | None) -> None:
        with pytest.raises(ValueError, match=r"URL|URI"):
            list_unsubscribe_headers(url, mailto)

    def test_a_mail_client_reads_them_back_from_the_sent_mime(self) -> None:
        url = "https://c.example/u/" + "x" * 40
        raw = compose(OutgoingEmail("n@example.com", "a@example.dk", "s", "t", headers=list_unsubscribe_headers(url)))
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert str(message["List-Unsubscribe"]).strip() == f"<{url}>"  # folding may leave leading whitespace
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    def test_a_real_length_url_is_sent_as_it_is_not_as_encoded_words(self, svc: FakeServices) -> None:
        # Mail providers do not decode RFC 2047 in List-Unsubscribe: the URL must be on the wire verbatim.
        url = _signer(svc).unsubscribe(CONTACT, "e-marketing", Channel.EMAIL, "cmp_0193f5ab1234567890abcdef")
        raw = compose(OutgoingEmail("n@example.com", "a@example.dk", "s", "t", headers=list_unsubscribe_headers(url)))
        assert f"List-Unsubscribe: <{url}>".encode() in raw


class TestForms:
    def test_urlencoded_one_click(self) -> None:
        assert parse_form("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click") == {
            "List-Unsubscribe": "One-Click"
        }

    def test_multipart_as_a_mail_provider_sends_it(self) -> None:
        request = httpx.Request(
            "POST",
            "https://c.example/u/t",
            data={"reason": "ærligt talt"},
            files={"List-Unsubscribe": (None, "One-Click")},
        )
        fields = parse_form(request.headers["content-type"], request.read())
        assert fields == {"reason": "ærligt talt", "List-Unsubscribe": "One-Click"}

    def test_json_empty_and_unknown_bodies(self) -> None:
        assert parse_form("application/json", b'{"scope": "all", "n": {"x": 1}}') == {"scope": "all"}
        assert parse_form("", b"") == {}
        assert parse_form("text/plain", b"List-Unsubscribe=One-Click") == {}

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("multipart/form-data; boundary=abc", b"no parts here"),
            ("application/json", b"[1, 2]"),
            ("application/json", b"{not json"),
        ],
    )
    def test_malformed_bodies_are_a_400(self, content_type: str, body: bytes) -> None:
        with pytest.raises(MalformedForm) as refused:
            parse_form(content_type, body)
        assert refused.value.status == 400


class TestLocales:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("nl-NL,nl;q=0.9,en;q=0.8", "nl"),
            ("fr-FR, de;q=0.5, sv;q=0.7", "sv"),
            ("fi", None),
            ("", None),
            (None, None),
            ("da;q=0, nb", "nb"),
            ("de;q=bogus, en", "en"),
        ],
    )
    def test_accept_language(self, header: str | None, expected: str | None) -> None:
        assert accept_language_locale(header, SUPPORTED_LOCALES) == expected

    @pytest.mark.parametrize(
        ("contact_locale_", "tenant_default", "expected"),
        [("nl", "da", "nl"), (None, "da", "da"), ("fi", "sv", "sv"), (None, "fi", "en"), ("fi", "fi", "en")],
    )
    def test_a_contacts_page_falls_back_to_the_tenant_then_english(
        self, contact_locale_: str | None, tenant_default: str, expected: str
    ) -> None:
        contact = LoadedContact(
            CONTACT, 1, GENESIS_HASH, cast(ContactBox, None), ContactProfile(locale=contact_locale_), {}
        )
        assert contact_locale(contact, _tenant(default_locale=tenant_default)) == expected

    def test_every_locale_has_every_text_with_the_same_placeholders(self) -> None:
        formatter = string.Formatter()
        english = MESSAGES["en"]
        for locale in SUPPORTED_LOCALES:
            assert set(MESSAGES[locale]) == set(english), locale
            for key, text in MESSAGES[locale].items():
                fields = {f for _, f, _, _ in formatter.parse(text) if f}
                assert fields == {f for _, f, _, _ in formatter.parse(english[key]) if f}, (locale, key)

    @pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
    def test_the_page_is_escaped_and_in_its_language(self, locale: str) -> None:
        view = UnsubscribeView(
            locale=locale,
            tenant=TenantFace('<script>alert("x")</script> & Co', "https://acme.example/privacy?a=1&b=2"),
            purpose="<b>News</b>",
            channel=Channel.EMAIL,
            already_withdrawn=False,
            preference_url="https://c.example/p/t",
        )
        page = render_page("unsubscribe_page.html", locale, view=view)
        assert f'<html lang="{locale}">' in page
        assert "<script>" not in page
        assert "&lt;script&gt;" in page
        assert "&lt;b&gt;News&lt;/b&gt;" in page
        assert 'href="https://acme.example/privacy?a=1&amp;b=2"' in page
        assert f">{MESSAGES[locale]['unsub_button']}</button>" in page
        assert MESSAGES[locale]["unsub_reason_label"] in page

    def test_clean_reason(self) -> None:
        assert clean_reason(None) is None
        assert clean_reason("  \x00  ") is None
        assert clean_reason("too\x07 many") == "too many"
        assert len(clean_reason("x" * 5000) or "") == 500


class TestRouting:
    @pytest.mark.parametrize(
        ("method", "path", "function"),
        [
            ("GET", "/u/eyJ0IjoiZGVtbyJ9.AbC-d_E", "unsubscribe"),
            ("POST", "/u/eyJ0IjoiZGVtbyJ9.AbC-d_E", "unsubscribe"),
            ("GET", "/p/eyJ0IjoiZGVtbyJ9.AbC-d_E", "unsubscribe"),
            ("POST", "/p/eyJ0IjoiZGVtbyJ9.AbC-d_E", "unsubscribe"),
            ("POST", "/v1/public/demo/preference-link", "unsubscribe"),
            ("OPTIONS", "/v1/public/demo/preference-link", "unsubscribe"),
            ("POST", "/v1/admin/contacts/con_1/links", "links_admin"),
            ("POST", "/v1/admin/messages/test", "links_admin"),
            ("GET", "/v1/admin/settings/link-key", "links_admin"),
            ("POST", "/v1/admin/settings/link-key/rotate", "links_admin"),
            ("GET", "/v1/admin/contacts/con_1", "admin_api"),  # the rest of the admin API is untouched
        ],
    )
    def test_the_local_front_and_api_gateway_route_these_paths(self, method: str, path: str, function: str) -> None:
        match = Router(ROUTES).match(method, path)
        assert match is not None
        assert match.route.function == function


# --- the head hint -------------------------------------------------------------------------------------


def _hint() -> HeadHint:
    return HeadHint(seq=7, last_hash="ab" * 32, address_index="cd" * 32, public_key=b"\x01" * 32, locale="da")


def test_a_head_hint_survives_its_claims_and_a_token_without_one_has_none() -> None:
    claims = UnsubscribeClaims("acme", "con_" + "0" * 16, "e-marketing", Channel.EMAIL, "cmp_1", 1, _hint())

    assert unsubscribe_claims(claims.to_claims()) == claims
    plain = {k: v for k, v in claims.to_claims().items() if k != "h"}
    assert unsubscribe_claims(plain).head is None


@pytest.mark.parametrize(
    "change",
    [
        {"s": -1},
        {"s": True},
        {"s": "7"},
        {"x": "ab" * 31},
        {"x": "AB" * 32},
        {"a": None},
        {"pk": tokens.b64url(b"\x01" * 31)},
        {"pk": "not base64!"},
        {"l": "dan"},
    ],
)
def test_a_malformed_head_hint_is_a_malformed_link(change: dict[str, Any]) -> None:
    claims = UnsubscribeClaims("acme", "con_" + "0" * 16, "e-marketing", Channel.EMAIL, "cmp_1", 1, _hint())
    raw = claims.to_claims()
    raw["h"] = {**raw["h"], **change}

    with pytest.raises(tokens.InvalidToken):
        unsubscribe_claims(raw)
    with pytest.raises(tokens.InvalidToken):
        unsubscribe_claims({**raw, "h": "7"})
