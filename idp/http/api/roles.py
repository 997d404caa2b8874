"""`/api/v1/tenants/{slug}/roles`: roles (groups); assign them with PATCH on a user."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, jsonify

from idp.context import services
from idp.http.api.auth import reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body
from idp.http.api.paging import single_page
from idp.http.api.preconditions import precondition, resource
from idp.services.accounts import roles as role_service
from idp.services.tenancy.tenants import TenantView


@bp.post("/tenants/<slug>/roles")
def create_role(slug: str) -> Response:
    tenant = reachable_tenant(slug, "users:write")
    body = parse_body({"name": Field(str, required=True), "description": Field(str, nullable=True)})
    role = role_service.create_role(services().uow(), tenant, body["name"], body.get("description"))
    return resource(
        role.public_dict(),
        201,
        {"Location": f"/api/v1/tenants/{slug}/roles/{quote(role.name, safe='')}"},
    )


@bp.get("/tenants/<slug>/roles")
def list_roles(slug: str) -> Response:
    tenant = reachable_tenant(slug, "users:read")
    roles = role_service.list_roles(services().uow(), tenant)
    return jsonify(single_page(role.public_dict() for role in roles))


@bp.get("/tenants/<slug>/roles/<role>")
def get_role(slug: str, role: str) -> Response:
    tenant = reachable_tenant(slug, "users:read")
    return resource(_current(tenant, role))


def _current(tenant: TenantView, role: str) -> dict[str, Any]:
    return role_service.get_role(services().uow(), tenant, role).public_dict()


@bp.patch("/tenants/<slug>/roles/<role>")
def update_role(slug: str, role: str) -> Response:
    tenant = reachable_tenant(slug, "users:write")
    body = parse_body({"description": Field(str, nullable=True)})
    with precondition(lambda: _current(tenant, role)):
        updated = role_service.update_role(services().uow(), tenant, role, body.get("description"))
    return resource(updated.public_dict())


@bp.delete("/tenants/<slug>/roles/<role>")
def delete_role(slug: str, role: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "users:write")
    with precondition(lambda: _current(tenant, role)):
        role_service.delete_role(services().uow(), tenant, role)
    return "", 204
