"""`/api/v1/tenants/{slug}/audit-events` and, for platform keys, `/api/v1/audit-events`."""

from __future__ import annotations

from datetime import datetime

from flask import Response, jsonify, request

from idp.context import services
from idp.http.api.auth import reachable_tenant, require
from idp.http.api.blueprint import bp
from idp.http.api.bodies import iso_time
from idp.http.api.paging import envelope, page_params
from idp.http.api.problems import ApiProblem
from idp.services import audit as audit_service
from idp.services.audit import AuditEventView, AuditFilter
from idp.services.errors import NotFound
from idp.services.tenancy.tenants import get_tenant


def render(event: AuditEventView) -> dict[str, object]:
    return event.public_dict()


@bp.get("/tenants/<slug>/audit-events")
def list_tenant_audit_events(slug: str) -> Response:
    tenant = reachable_tenant(slug, "audit:read")
    before, limit = page_params()
    page = audit_service.page_events(services().uow(), tenant.id, False, _filters(), before, limit)
    return jsonify(envelope(page, render))


@bp.get("/audit-events")
def list_audit_events() -> Response:
    """Every tenant's events and the installation's own (tenant creation and deletion)."""
    caller = require("audit:read")
    if not caller.is_platform:
        raise ApiProblem(403, "Forbidden", "Only a platform key reads the installation's log.")
    before, limit = page_params()
    tenant_id = None
    if request.args.get("tenant"):
        try:
            tenant_id = get_tenant(services().uow(), request.args["tenant"]).id
        except NotFound:
            raise ApiProblem(400, "Bad request", "tenant names no tenant") from None
    page = audit_service.page_events(services().uow(), tenant_id, True, _filters(), before, limit)
    return jsonify(envelope(page, render))


def _filters() -> AuditFilter:
    return AuditFilter(
        action=_text("action"),
        actor=_text("actor"),
        target_id=_text("target_id"),
        since=_moment("since"),
        until=_moment("until"),
    )


def _text(name: str) -> str | None:
    """A filter's value (a NUL never gets here: idp/http/url_values.py)."""
    return request.args.get(name) or None


def _moment(name: str) -> datetime | None:
    text = request.args.get(name)
    if text is None:  # sent empty, it is refused like any other value that is not a time
        return None
    moment = iso_time(text)
    if moment is None:
        raise ApiProblem(400, "Bad request", f"{name} must be an ISO 8601 time with offset")
    return moment
