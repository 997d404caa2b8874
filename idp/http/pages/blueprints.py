"""What every blueprint of a tenant's hosted pages shares: the tenant from the URL, forms
without NUL, no caching, the CSRF cookie, and the tenant's stylesheet (its colour and CSS,
services/tenancy/branding.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g
from werkzeug.exceptions import NotFound

from idp.context import current_tenant, services
from idp.http.pages.cookies import ensure_csrf_cookie
from idp.http.pages.forms import refuse_nul_in_form
from idp.services.tenancy.branding import Branding


def resolve_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
    tenant = services().tenant_cache.get((values or {}).pop("tenant", ""))
    if tenant is None:
        raise NotFound()
    g.tenant = tenant


def page_headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return ensure_csrf_cookie(response)


def tenant_pages(name: str, import_name: str) -> Blueprint:
    """A blueprint of pages under {issuer}/ (DESIGN §1)."""
    bp = Blueprint(name, import_name, url_prefix="/t/<tenant>")
    bp.url_value_preprocessor(resolve_tenant)
    bp.before_request(refuse_nul_in_form)
    bp.after_request(page_headers)
    return bp


branding_bp = tenant_pages("branding", __name__)


@branding_bp.get("/branding.css")
def branding_css() -> Response:
    """The tenant's colours and CSS; short-lived in caches, so a change shows within a minute."""
    response = Response(Branding.of(current_tenant()).stylesheet(), mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
