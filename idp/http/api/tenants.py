"""`/api/v1/tenants`: each tenant is an issuer; creating and deleting them is platform work."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from idp.context import issuer_of, services
from idp.http.api.auth import principal, reachable_tenant, require
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body
from idp.http.api.paging import envelope, page_params, single_page
from idp.http.api.preconditions import precondition, resource
from idp.http.api.problems import ApiProblem
from idp.services.tenancy import tenants as tenant_service
from idp.services.tenancy.tenants import TenantView


def render(tenant: TenantView) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "issuer": issuer_of(tenant),
        "signing_alg": tenant.signing_alg,
        "access_token_lifetime": tenant.access_token_lifetime,
        "created_at": tenant.created_at.isoformat(),
    }


def _platform_only() -> None:
    if not principal().is_platform:
        raise ApiProblem(403, "Forbidden", "Only a platform key can create or delete tenants.")


@bp.post("/tenants")
def create_tenant() -> Response:
    require("tenants:write")
    _platform_only()
    body = parse_body({"slug": Field(str, required=True), "name": Field(str, required=True)})
    container = services()
    tenant = tenant_service.create_tenant(
        container.uow(), container.kek, body["slug"], body["name"]
    )
    return resource(render(tenant), 201, {"Location": f"/api/v1/tenants/{tenant.slug}"})


@bp.get("/tenants")
def list_tenants() -> Response:
    caller = require("tenants:read")
    after, limit = page_params()
    container = services()
    if caller.is_platform:
        page = tenant_service.page_tenants(container.uow(), after, limit)
        return jsonify(envelope(page, render))
    own = [t for t in tenant_service.list_tenants(container.uow()) if t.id == caller.tenant_id]
    return jsonify(single_page(render(t) for t in own))


@bp.get("/tenants/<slug>")
def get_tenant(slug: str) -> Response:
    return resource(render(reachable_tenant(slug, "tenants:read")))


def _current(slug: str) -> dict[str, Any]:
    return render(tenant_service.get_tenant(services().uow(), slug))


@bp.patch("/tenants/<slug>")
def update_tenant(slug: str) -> Response:
    reachable_tenant(slug, "tenants:write")
    changes = parse_body(
        {
            "name": Field(str),
            "signing_alg": Field(str, nullable=True),
            "access_token_lifetime": Field(int, nullable=True),
        }
    )
    with precondition(lambda: _current(slug)):
        updated = tenant_service.update_tenant(services().uow(), slug, changes)
    return resource(render(updated))


@bp.delete("/tenants/<slug>")
def delete_tenant(slug: str) -> tuple[str, int]:
    reachable_tenant(slug, "tenants:write")
    _platform_only()
    with precondition(lambda: _current(slug)):
        tenant_service.delete_tenant(services().uow(), slug)
    return "", 204
