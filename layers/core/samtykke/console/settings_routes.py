"""The console's configuration pages: purposes, consent texts (with a diff between versions), sources, legal-basis
labels and the tenant's settings; imports with their row errors; staff users and API keys."""

from __future__ import annotations

from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response

from samtykke.api.request import public_base_url
from samtykke.console import views
from samtykke.console.web import Request, page, router
from samtykke.domain.access import Permission, Role
from samtykke.domain.errors import InvalidInput, NotFound
from samtykke.models.catalog import ConsentTextCreate, LegalBasisLabelUpdate
from samtykke.models.staff import UserCreate, UserUpdate
from samtykke.models.tenant import TenantSettingsUpdate
from samtykke.services import api_keys, catalog_admin, imports, staff

# --- the catalogue and settings ------------------------------------------------------------------------------


@router.get("/console/catalog")
@page(Permission.CATALOG_READ)
def catalog(request: Request) -> Response[str]:
    found = request.svc.catalogs.get(request.tenant_id)
    versions = {key: len(texts) for key, texts in sorted(found.texts.items())}
    return request.render("catalog.html", section="catalog", catalog=found, versions=versions)


@router.get("/console/catalog/texts/<purpose_id>/<locale>")
@page(Permission.CATALOG_READ)
def consent_texts(request: Request, purpose_id: str, locale: str) -> Response[str]:
    texts = catalog_admin.list_texts(request.svc, request.tenant_id, purpose_id, locale)
    if not texts:
        raise NotFound("The purpose has no text in that language", code="text_not_found")
    by_version = {text.version: text for text in texts}
    newest = texts[-1].version
    to = _version(request.query("to"), newest)
    since = _version(request.query("from"), max(to - 1, texts[0].version))
    if since not in by_version or to not in by_version:
        raise NotFound("No such version", code="text_not_found")
    diff = views.text_diff(by_version[since].text, by_version[to].text)
    return request.render(
        "texts.html", section="catalog", purpose_id=purpose_id, text_locale=locale, texts=texts, since=since, to=to,
        diff=diff,
    )  # fmt: skip


def _version(raw: str, default: int) -> int:
    return int(raw) if raw.isdigit() else default


@router.post("/console/catalog/texts/<purpose_id>/<locale>")
@page(Permission.CATALOG_WRITE, form=True)
def add_text_version(request: Request, purpose_id: str, locale: str) -> Response[str]:
    new = ConsentTextCreate.model_validate(
        {"purpose_id": purpose_id, "locale": locale, "text": request.fields.get("text", "")}
    )
    catalog_admin.add_text_version(request.svc, request.tenant_id, new)
    return request.redirect(f"/catalog/texts/{quote(purpose_id)}/{quote(locale)}")


@router.post("/console/catalog/legal-bases/<code>")
@page(Permission.CATALOG_WRITE, form=True)
def set_basis_label(request: Request, code: str) -> Response[str]:
    from samtykke.domain.consent import LegalBasis

    try:
        basis = LegalBasis(code)
    except ValueError as exc:
        raise InvalidInput("No such legal basis", code="unknown_legal_basis") from exc
    label = LegalBasisLabelUpdate.model_validate({"label": request.fields.get("label", "")})
    catalog_admin.set_legal_basis_label(request.svc, request.tenant_id, basis, label)
    return request.redirect("/catalog")


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _sub_processor(line: str) -> dict[str, str]:
    name, _, rest = line.partition("|")
    purpose, _, agreed = rest.rpartition("|")
    return {"name": name.strip(), "purpose": purpose.strip(), "agreement_date": agreed.strip()}


@router.post("/console/catalog/settings")
@page(Permission.SETTINGS_WRITE, form=True)
def update_settings(request: Request) -> Response[str]:
    """Privacy policy, country, language, origins, redirects and sub-processors (`name | purpose | yyyy-mm-dd`)."""
    fields = request.fields
    update = TenantSettingsUpdate.model_validate(
        {
            "privacy_policy_url": fields.get("privacy_policy_url") or None,
            "country": fields.get("country", "").strip().upper(),
            "default_locale": fields.get("default_locale", "").strip(),
            "allowed_origins": _lines(fields.get("allowed_origins", "")),
            "allowed_redirects": _lines(fields.get("allowed_redirects", "")),
            "sub_processors": [_sub_processor(line) for line in _lines(fields.get("sub_processors", ""))],
        }
    )
    catalog_admin.update_settings(request.svc, request.tenant_id, update)
    return request.redirect("/catalog")


# --- imports ---------------------------------------------------------------------------------------------------


@router.get("/console/imports")
@page(Permission.IMPORTS_READ)
def import_list(request: Request) -> Response[str]:
    found = imports.list_imports(request.svc, request.tenant_id, limit=50, cursor=request.query("cursor") or None)
    return request.render("imports.html", section="imports", imports=found)


@router.get("/console/imports/<import_id>")
@page(Permission.IMPORTS_READ)
def import_detail(request: Request, import_id: str) -> Response[str]:
    view = imports.import_view(request.svc, request.tenant_id, import_id)
    issues = imports.import_issues(
        request.svc, request.tenant_id, import_id, limit=100, cursor=request.query("cursor") or None
    )
    return request.render("import.html", section="imports", item=view, issues=issues)


# --- staff and API keys -------------------------------------------------------------------------------------


def _staff_page(request: Request, status: int = 200, **context: object) -> Response[str]:
    users = staff.list_users(request.svc, request.tenant_id)
    keys = api_keys.list_api_keys(request.svc, request.tenant_id) if request.may(Permission.API_KEYS_MANAGE) else []
    roles = [role.value for role in Role]
    return request.render("staff.html", status, section="staff", users=users, keys=keys, roles=roles, **context)


@router.get("/console/staff")
@page(Permission.USERS_READ)
def staff_page(request: Request) -> Response[str]:
    return _staff_page(request)


@router.post("/console/staff/invite")
@page(Permission.USERS_WRITE, form=True)
def invite(request: Request) -> Response[str]:
    grants = ["sensitive:read"] if request.fields.get("sensitive") == "yes" else []
    new = UserCreate.model_validate(
        {"email": request.fields.get("email", ""), "role": request.fields.get("role", ""), "grants": grants}
    )
    staff.create_user(
        request.svc,
        request.tenant_id,
        new,
        actor=request.principal,
        ip=request.ip,
        public_base_url=public_base_url(request.event),
    )
    return _staff_page(request, notice=request.t["invited_notice"])


@router.post("/console/staff/<user_id>")
@page(Permission.USERS_WRITE, form=True)
def change_user(request: Request, user_id: str) -> Response[str]:
    change = request.fields.get("change")
    if change == "reset-mfa":
        staff.reset_user_mfa(request.svc, request.principal, user_id, ip=request.ip)
    else:
        update: dict[str, object] = {}
        if change == "role":
            grants = ["sensitive:read"] if request.fields.get("sensitive") == "yes" else []
            update = {"role": request.fields.get("role", ""), "grants": grants}
        elif change in ("deactivate", "reactivate"):
            update = {"active": change == "reactivate"}
        else:
            raise InvalidInput("Unknown change", code="unknown_change")
        staff.update_user(request.svc, request.principal, user_id, UserUpdate.model_validate(update), ip=request.ip)
    return _staff_page(request, notice=request.t["saved_notice"])


@router.post("/console/keys")
@page(Permission.API_KEYS_MANAGE, form=True)
def create_key(request: Request) -> Response[str]:
    try:
        role = Role(request.fields.get("role", ""))
    except ValueError as exc:
        raise InvalidInput("Pick a role", code="unknown_role") from exc
    label = request.fields.get("label", "").strip()[:100] or "console"
    made = api_keys.create_api_key(request.svc, request.principal, role, label, frozenset(), ip=request.ip)
    return _staff_page(request, new_secret=made["secret"])


@router.post("/console/keys/<key_id>/revoke")
@page(Permission.API_KEYS_MANAGE, form=True)
def revoke_key(request: Request, key_id: str) -> Response[str]:
    api_keys.revoke_api_key(request.svc, request.principal, key_id, ip=request.ip)
    return _staff_page(request, notice=request.t["saved_notice"])
