"""`/api/v1/tenants/{slug}/api-keys`: keys are shown once, then only by name and last four."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from idp.context import services
from idp.http.api.auth import principal, reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body, parse_time
from idp.http.api.paging import single_page
from idp.http.api.preconditions import precondition, resource
from idp.services.management import api_keys as key_service
from idp.services.tenancy.tenants import TenantView


@bp.post("/tenants/<slug>/api-keys")
def create_api_key(slug: str) -> Response:
    tenant = reachable_tenant(slug, "keys:write")
    body = parse_body(
        {
            "name": Field(str, required=True),
            "scopes": Field(list, items=str),
            "expires_at": Field(str),
        }
    )
    expires_at = parse_time("expires_at", body.get("expires_at"))
    scopes = tuple(body["scopes"]) if body.get("scopes") is not None else None
    issued = key_service.create_api_key(
        services().uow(), principal(), tenant, body["name"], scopes, expires_at
    )
    location = f"/api/v1/tenants/{slug}/api-keys/{issued.key.key_id}"
    return resource(
        issued.key.public_dict(), 201, {"Location": location}, shown_once={"key": issued.secret}
    )


@bp.get("/tenants/<slug>/api-keys")
def list_api_keys(slug: str) -> Response:
    tenant = reachable_tenant(slug, "keys:read")
    keys = key_service.list_api_keys(services().uow(), tenant)
    return jsonify(single_page(key.public_dict() for key in keys))


@bp.get("/tenants/<slug>/api-keys/<key_id>")
def get_api_key(slug: str, key_id: str) -> Response:
    tenant = reachable_tenant(slug, "keys:read")
    return resource(_current(tenant, key_id))


def _current(tenant: TenantView, key_id: str) -> dict[str, Any]:
    return key_service.get_api_key(services().uow(), tenant, key_id).public_dict()


@bp.delete("/tenants/<slug>/api-keys/<key_id>")
def revoke_api_key(slug: str, key_id: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "keys:write")
    with precondition(lambda: _current(tenant, key_id)):
        key_service.revoke_api_key(services().uow(), tenant, key_id)
    return "", 204
