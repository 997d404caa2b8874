"""`/api/v1/tenants/{slug}/team`: who administers the tenant (seed 002)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from idp.context import services
from idp.http.api.auth import principal, reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body
from idp.http.api.paging import single_page
from idp.http.api.preconditions import precondition, resource
from idp.services.management import team as team_service
from idp.services.tenancy.tenants import TenantView


@bp.get("/tenants/<slug>/team")
def list_team(slug: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:read")
    members = team_service.list_members(services().uow(), tenant)
    return jsonify(single_page(member.public_dict() for member in members))


@bp.post("/tenants/<slug>/team")
def add_team_member(slug: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:write")
    body = parse_body({"email": Field(str, required=True), "role": Field(str, required=True)})
    member = team_service.add_member(
        services().uow(), tenant, body["email"], body["role"], principal().label
    )
    location = f"/api/v1/tenants/{slug}/team/{member.member_id}"
    return resource(member.public_dict(), 201, {"Location": location})


@bp.get("/tenants/<slug>/team/<member_id>")
def get_team_member(slug: str, member_id: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:read")
    return resource(_current(tenant, member_id))


def _current(tenant: TenantView, member_id: str) -> dict[str, Any]:
    return team_service.get_member(services().uow(), tenant, member_id).public_dict()


@bp.patch("/tenants/<slug>/team/<member_id>")
def change_team_role(slug: str, member_id: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:write")
    body = parse_body({"role": Field(str, required=True)})
    with precondition(lambda: _current(tenant, member_id)):
        updated = team_service.change_role(services().uow(), tenant, member_id, body["role"])
    return resource(updated.public_dict())


@bp.delete("/tenants/<slug>/team/<member_id>")
def remove_team_member(slug: str, member_id: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "tenants:write")
    with precondition(lambda: _current(tenant, member_id)):
        team_service.remove_member(services().uow(), tenant, member_id)
    return "", 204
