"""The console's routes: thin, each one permission, one service call or view, one template.

Views call the services directly (no HTTP round trip through the admin API) with the logged-in staff user as the
principal, so the same role rules, audit entries and masking apply as for the API.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import ValidationError

from samtykke.api.request import public_base_url
from samtykke.console import session as sessions
from samtykke.console import views
from samtykke.console.views import RECORD_SEPARATOR
from samtykke.console.web import CSP, SECURITY_HEADERS, Request, page, request_for, router
from samtykke.domain.access import Permission
from samtykke.domain.audit import AuditAction
from samtykke.domain.errors import Forbidden, InvalidInput, NotFound, SamtykkeError
from samtykke.domain.masking import has_sensitive_values, sensitive_keys
from samtykke.domain.uploads import MAX_EVIDENCE_BYTES, OwnerKind
from samtykke.models.rights import ExportLink
from samtykke.models.staff import LoginRequest
from samtykke.models.staff_consent import StaffConsentChange
from samtykke.services import (
    audit,
    campaigns,
    consent_form,
    contact_list,
    contacts,
    erasure,
    evidence,
    export,
    preferences,
)

STATIC = Path(__file__).resolve().parent.parent / "templates" / "console" / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
NONE = "'none'"
STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)
SAFE_NEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")

__all__ = ["router"]


def document_csp(html: str) -> dict[str, str]:
    """The policy of a standalone document (the export, the consent form): its own <style> blocks, by hash, only."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in STYLE_BLOCK.findall(html)
    )
    return {
        "Content-Security-Policy": f"default-src 'none'; style-src {hashes or NONE}; "
        "img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    }


# --- static files and the front door ------------------------------------------------------------------------


@router.get("/console/static/<name>")
def static_file(name: str) -> Response[str]:
    path = STATIC / name
    if path.suffix not in STATIC_TYPES or path.parent != STATIC or not path.is_file():
        return Response(status_code=404, content_type="text/plain", body="not found", headers=SECURITY_HEADERS)
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=300"}
    return Response(status_code=200, content_type=STATIC_TYPES[path.suffix], body=path.read_text(), headers=headers)


@router.get("/console")
@page(None)
def home(request: Request) -> Response[str]:
    return request.redirect("/dashboard" if request.may(Permission.CONSENT_LOG_READ) else "/people")


# --- login and logout -----------------------------------------------------------------------------------------


def _next_path(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and set(value) <= SAFE_NEXT else "/"


def _login_page(request: Request, status: int = 200, **context: Any) -> Response[str]:
    token = sessions.new_login_token()
    secure = sessions.secure_cookies(request.event)
    request.cookies.append(sessions.login_form_cookie(token, request.root, secure))
    return request.render("login.html", status, csrf=token, **context)


@router.get("/console/login")
def login_form() -> Response[str]:
    request = request_for(router)
    return _login_page(request, next=_next_path(request.query("next", "/")))


@router.post("/console/login")
def login() -> Response[str]:
    from samtykke.api.forms import form_fields
    from samtykke.services import sessions as staff_sessions

    request = request_for(router)
    fields = form_fields(request.event)
    next_path = _next_path(fields.get("next", "/"))
    email = fields.get("email", "")
    expected = sessions.cookies_of(request.event).get(sessions.LOGIN_COOKIE, "")
    try:
        sessions.check_csrf(request.event, expected, fields)
        credentials = LoginRequest.model_validate(
            {
                "email": email,
                "password": fields.get("password", ""),
                "totp": fields.get("totp") or None,
                "recovery_code": fields.get("recovery_code") or None,
            }
        )
        tokens = staff_sessions.login(request.svc, credentials, ip=request.ip)
    except SamtykkeError as exc:
        needs_code = exc.code in ("mfa_required", "mfa_invalid")
        return _login_page(
            request,
            exc.status,
            error=exc.code,
            email=email,
            needs_code=needs_code,
            next=next_path,
        )
    except ValueError:
        return _login_page(request, 422, error="invalid_credentials", email=email, next=next_path)
    if tokens.scope != "full":
        return _login_page(request, 403, error="mfa_enrolment_required", email=email, next=next_path)
    request.cookies += sessions.session_cookies(tokens, request.root, sessions.secure_cookies(request.event))
    return request.redirect(next_path if next_path != "/" else "")


@router.post("/console/logout")
@page(None, form=True)
def logout(request: Request) -> Response[str]:
    from samtykke.services import sessions as staff_sessions

    refresh = sessions.cookies_of(request.event).get(sessions.REFRESH_COOKIE)
    if refresh:
        with contextlib.suppress(SamtykkeError):  # the login had ended already: clearing the cookies is what is left
            staff_sessions.logout(request.svc, refresh, ip=request.ip)
    request.session = None
    request.cookies += sessions.cleared_cookies(request.root, sessions.secure_cookies(request.event))
    return request.redirect("/login")


# --- people -------------------------------------------------------------------------------------------------


@router.get("/console/people")
@page(Permission.CONTACTS_SEARCH)
def people(request: Request) -> Response[str]:
    query = request.query("q")
    if not query:
        listed = None
        if request.query("browse"):  # listing is audited per page, so it is asked for rather than shown by default
            listed = contact_list.list_contacts(
                request.svc,
                request.principal,
                contact_list.ContactFilter(name_prefix=request.query("name") or None),
                limit=25,
                cursor=request.query("cursor") or None,
                ip=request.ip,
            )
        return request.render("people.html", section="people", query="", listed=listed)
    try:
        contact_id = views.find_contact(request.svc, request.tenant_id, query)
    except SamtykkeError as exc:
        return request.render("people.html", exc.status, section="people", query=query, error=exc.code)
    return request.redirect(f"/people/{quote(contact_id)}")


def _person(
    request: Request,
    contact_id: str,
    *,
    national_id: str | None = None,
    notice: str | None = None,
    status: int = 200,
    record_form: dict[str, str] | None = None,
    record_error: SamtykkeError | None = None,
) -> Response[str]:
    timeline = views.timeline(request.svc, request.principal, contact_id)
    catalog = request.svc.catalogs.get(request.tenant_id)
    texts = {event["event_id"]: views.text_of(catalog, event.get("text")) for event in timeline.events}
    response = request.render(
        "person.html",
        status,
        section="people",
        contact_id=contact_id,
        timeline=timeline,
        texts=texts,
        labels=catalog.basis_labels,
        purposes=catalog.purposes,
        sources=catalog.sources,
        national_id=national_id,
        notice=notice,
        record=views.record_choices(catalog, request.locale),
        record_form=record_form or {},
        record_error=record_error,
    )
    if record_error is not None:
        response.headers["X-Samtykke-Error"] = record_error.code
    return response


@router.get("/console/people/<contact_id>")
@page(Permission.CONSENT_LOG_READ)
def person(request: Request, contact_id: str) -> Response[str]:
    contacts.require_contact(request.svc, request.tenant_id, contact_id)
    audit.record(
        request.svc, request.principal, "contact.viewed", ("contact", contact_id), request.ip, {"via": "console"}
    )
    recorded = request.query("recorded")
    return _person(request, contact_id, notice=request.t["recorded_notice"] if recorded else None)


def _staff_consent_change(fields: dict[str, str]) -> StaffConsentChange:
    """The form as the admin API's request model; a refused field as a stable code (the note has its own)."""
    purpose, _, channel = fields.get("consent", "").partition(RECORD_SEPARATOR)
    try:
        return StaffConsentChange.model_validate(
            {
                "action": fields.get("action", ""),
                "purpose": purpose,
                "channel": channel,
                "source": fields.get("source", ""),
                "note": fields.get("note", ""),
                "legal_basis": fields.get("legal_basis") or None,
            }
        )
    except ValidationError as exc:
        refused = sorted({str(error["loc"][0]) for error in exc.errors() if error.get("loc")})
        if refused == ["note"]:
            raise InvalidInput(
                "Write down what the person said, and when (10 characters at least)", code="note_required"
            ) from exc
        raise InvalidInput(f"Check these fields: {', '.join(refused)}", code="validation_failed") from exc


@router.post("/console/people/<contact_id>/consents")
@page(Permission.CONSENTS_WRITE, form=True)
def record_on_behalf(request: Request, contact_id: str) -> Response[str]:
    """A grant, withdrawal or legal-basis change the person told staff about, through the admin API's own service.

    A refused form shows the person's page again with the form open, its values kept and the reason in the reader's
    language; a recorded one redirects to the page (so reloading it records nothing twice).
    """
    from samtykke.services.governance.staff_consents import record_for_contact

    fields = request.fields
    try:
        change = _staff_consent_change(fields)
        result = record_for_contact(request.svc, request.principal, contact_id, change, ip=request.ip)
    except SamtykkeError as exc:
        return _person(request, contact_id, status=exc.status, record_form=fields, record_error=exc)
    return request.redirect(f"/people/{quote(contact_id)}?recorded={quote(result.event_id)}")


@router.post("/console/people/<contact_id>/reveal")
@page(Permission.CONSENT_LOG_READ, form=True)
def reveal_national_id(request: Request, contact_id: str) -> Response[str]:
    target = ("contact", contact_id)
    if not request.principal.may(Permission.SENSITIVE_READ):
        audit.record(
            request.svc,
            request.principal,
            "contact.sensitive_read_denied",
            target,
            request.ip,
            {"field": "national_id"},
        )
        raise Forbidden("Revealing a national ID needs the sensitive:read grant", code="permission_denied")
    summary = contacts.contact_summary(request.svc, request.tenant_id, contact_id)
    # Recorded before the value leaves: if the audit write fails, the page fails and shows nothing.
    audit.record(
        request.svc,
        request.principal,
        AuditAction.SENSITIVE_READ,
        target,
        request.ip,
        {"field": "national_id", "via": "console"},
    )
    return _person(request, contact_id, national_id=summary.national_id or "", notice=request.t["revealed_notice"])


@router.get("/console/people/<contact_id>/evidence/<file_ref>")
@page(Permission.EVIDENCE_READ)
def evidence_thumbnail(request: Request, contact_id: str, file_ref: str) -> Response[bytes]:
    """A verified screenshot of an event, served through the console so the CSP stays `img-src 'self'`."""
    file_id = file_ref.replace("~", "/")
    found = next(
        (f for f in evidence.files_of(request.svc, request.tenant_id, OwnerKind.CONTACT, contact_id)
         if evidence.file_view(f).file_id == file_id),
        None,
    )  # fmt: skip
    if found is None or found.get("status") != "verified" or not str(found.get("content_type")).startswith("image/"):
        raise NotFound("No such screenshot", code="evidence_not_found")
    body = evidence.evidence_store(request.svc).read(found["key"], found.get("version_id"), limit=MAX_EVIDENCE_BYTES)
    headers = SECURITY_HEADERS | {"Cache-Control": "private, max-age=300"}
    return Response(status_code=200, content_type=str(found["content_type"]), body=body, headers=headers)


@router.get("/console/people/<contact_id>/export")
@page(Permission.CONTACTS_EXPORT)
def export_person(request: Request, contact_id: str) -> Response[str]:
    fmt = "html" if request.query("format") == "html" else "json"
    result = export.export_contact(request.svc, request.principal, contact_id, fmt=fmt, ip=request.ip)
    if isinstance(result, ExportLink):
        return request.respond(303, "", {"Location": result.download_url})
    if fmt == "json" and request.principal.may(Permission.SENSITIVE_READ):
        fields = request.svc.catalogs.get(request.tenant_id).tenant.redacted_fields()
        if has_sensitive_values(json.loads(result.body), sensitive_keys(fields)):
            audit.record(
                request.svc,
                request.principal,
                AuditAction.SENSITIVE_READ,
                ("contact", contact_id),
                request.ip,
                {"via": "console export"},
            )
    disposition = f'attachment; filename="{contact_id}.{fmt}"'
    response = request.respond(200, result.body, {"Content-Disposition": disposition} | document_csp(result.body))
    response.headers["Content-Type"] = result.content_type
    return response


@router.get("/console/people/<contact_id>/consent-form")
@page(Permission.CONTACTS_EXPORT)
def printable_consent_form(request: Request, contact_id: str) -> Response[str]:
    html = consent_form.consent_form(request.svc, request.principal, contact_id, locale=None, ip=request.ip)
    return request.respond(200, html, document_csp(html))


@router.post("/console/people/<contact_id>/erase")
@page(Permission.CONTACTS_ERASE, form=True)
def erase_person(request: Request, contact_id: str) -> Response[str]:
    if request.fields.get("confirm", "").strip() != contact_id:
        raise InvalidInput("Type the contact id exactly to confirm the erasure", code="confirmation_mismatch")
    result = erasure.erase_contact(request.svc, request.principal, contact_id, ip=request.ip)
    return request.render("erased.html", section="people", result=result)


@router.post("/console/people/<contact_id>/preference-link")
@page(Permission.CONTACT_LINKS, form=True)
def send_preference_link(request: Request, contact_id: str) -> Response[str]:
    summary = contacts.contact_summary(request.svc, request.tenant_id, contact_id)
    if not summary.email:
        raise InvalidInput("The person has no email address", code="no_email_address")
    preferences.request_preference_link(
        request.svc,
        request.tenant_id,
        summary.email,
        source_ip=request.ip or "",
        base_url=public_base_url(request.event),
    )
    audit.record(request.svc, request.principal, "contact.preference_link_sent", ("contact", contact_id), request.ip)
    return _person(request, contact_id, notice=request.t["link_sent_notice"])


# --- campaigns ----------------------------------------------------------------------------------------------


@router.get("/console/campaigns")
@page(Permission.CAMPAIGNS_READ)
def campaign_list(request: Request) -> Response[str]:
    wanted = request.query("id")
    if wanted:
        return request.redirect(f"/campaigns/{quote(wanted)}")
    page_of = campaigns.list_campaigns(
        request.svc, request.tenant_id, limit=50, cursor=request.query("cursor") or None, purpose=None, channel=None
    )
    return request.render("campaigns.html", section="campaigns", rows=page_of.campaigns, cursor=page_of.next_cursor)


@router.get("/console/campaigns/<campaign_id>")
@page(Permission.CAMPAIGNS_READ)
def campaign(request: Request, campaign_id: str) -> Response[str]:
    found = campaigns.get_campaign(request.svc, request.tenant_id, campaign_id)
    return request.render("campaign.html", section="campaigns", campaign=found)


@router.get("/console/campaigns/<campaign_id>/progress")
@page(Permission.CAMPAIGNS_READ)
def campaign_progress(request: Request, campaign_id: str) -> Response[str]:
    """The live progress fragment console.js polls while a send runs."""
    found = campaigns.get_campaign(request.svc, request.tenant_id, campaign_id)
    label = request.t.get(f"campaign_{found.status.value}", found.status.value)
    counts = found.counts.model_dump()
    body = json.dumps({"status": found.status.value, "status_label": label, "progress": found.progress, **counts})
    response = request.respond(200, body)
    response.headers["Content-Type"] = "application/json"
    return response


@router.post("/console/campaigns/<campaign_id>/dry-run")
@page(Permission.CAMPAIGNS_WRITE, form=True)
def campaign_dry_run(request: Request, campaign_id: str) -> Response[str]:
    report = campaigns.dry_run(request.svc, request.tenant_id, campaign_id)
    audit.record(
        request.svc,
        request.principal,
        "campaign.dry_run",
        ("campaign", campaign_id),
        request.ip,
        {"included": report.included, "excluded": report.excluded},
    )
    svg, rows = views.dry_run_chart(report, request.t)
    found = campaigns.get_campaign(request.svc, request.tenant_id, campaign_id)
    return request.render("dry_run.html", section="campaigns", campaign=found, report=report, chart=svg, rows=rows)


@router.post("/console/campaigns/<campaign_id>/send")
@page(Permission.CAMPAIGNS_SEND, form=True)
def campaign_send(request: Request, campaign_id: str) -> Response[str]:
    found = campaigns.get_campaign(request.svc, request.tenant_id, campaign_id)
    if request.fields.get("confirmed") != "yes":
        report = campaigns.dry_run(request.svc, request.tenant_id, campaign_id)
        return request.render("send_confirm.html", section="campaigns", campaign=found, report=report)
    campaigns.request_send(
        request.svc,
        request.principal,
        campaign_id,
        base_url=public_base_url(request.event),
        ip=request.ip,
        status_url=f"/v1/admin/campaigns/{campaign_id}",
    )
    return request.redirect(f"/campaigns/{quote(campaign_id)}")


# --- the dashboard and the audit log -----------------------------------------------------------------------


@router.get("/console/dashboard")
@page(Permission.CONSENT_LOG_READ)
def dashboard(request: Request) -> Response[str]:
    t = request.t
    purpose, channel = request.query("purpose") or None, request.query("channel") or None
    today = request.svc.clock().date()
    board = views.dashboard(request.svc, request.tenant_id, today, t, purpose=purpose, channel=channel)
    purposes = sorted(request.svc.catalogs.get(request.tenant_id).purposes)
    return request.render(
        "dashboard.html", section="dashboard", board=board, purposes=purposes, purpose=purpose, channel=channel
    )


@router.get("/console/audit")
@page(Permission.AUDIT_READ)
def audit_log(request: Request) -> Response[str]:
    month = request.query("month") or request.svc.clock().strftime("%Y-%m")
    filters = {name: request.query(name) or None for name in ("action", "actor_id", "target_id")}
    entries, cursor = audit.query(
        request.svc, request.tenant_id, month, limit=100, cursor=request.query("cursor") or None, **filters
    )
    return request.render("audit.html", section="audit", entries=entries, month=month, filters=filters, cursor=cursor)


def build_app() -> APIGatewayHttpResolver:
    from samtykke.console import settings_routes  # noqa: F401 - its pages register on the same router

    app = APIGatewayHttpResolver()
    app.include_router(router)

    @app.not_found
    def _no_page(exc: Exception) -> Response[str]:
        request = request_for(router)
        return request.error(NotFound("There is no such page", code="page_not_found"))

    return app
