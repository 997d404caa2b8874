"""`/api/v1/tenants/{slug}/usage`: seed 002's analytics, per day and per client."""

from __future__ import annotations

from flask import Response, jsonify, request

from idp.context import services
from idp.http.api.auth import reachable_tenant
from idp.http.api.blueprint import bp
from idp.services.tenancy import usage as usage_service


@bp.get("/tenants/<slug>/usage")
def get_usage(slug: str) -> Response:
    tenant = reachable_tenant(slug, "usage:read")
    start, end = usage_service.parse_range(request.args.get("from"), request.args.get("to"))
    report = usage_service.usage_report(
        services().uow(), tenant, start, end, request.args.get("client_id") or None
    )
    return jsonify(report.public_dict())
