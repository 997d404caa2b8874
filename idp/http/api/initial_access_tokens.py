"""`/api/v1/tenants/{slug}/initial-access-tokens`: tokens that let developers register clients
at the tenant's registration endpoint (RFC 7591 §3); shown once, then only by id and last four.

They mint clients, so they take the client scopes: `clients:write` to create or delete one,
`clients:read` to list them.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from idp.context import services
from idp.http.api.auth import principal, reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body, parse_time
from idp.http.api.paging import single_page
from idp.http.api.preconditions import precondition, resource
from idp.services.oauth_clients import initial_access_tokens as token_service
from idp.services.tenancy.tenants import TenantView

PATH = "/tenants/<slug>/initial-access-tokens"


@bp.post(PATH)
def create_initial_access_token(slug: str) -> Response:
    tenant = reachable_tenant(slug, "clients:write")
    body = parse_body(
        {"name": Field(str), "expires_at": Field(str, nullable=True), "max_uses": Field(int)}
    )
    issued = token_service.create_initial_access_token(
        services().uow(),
        tenant,
        principal().label,
        name=body.get("name"),
        expires_at=parse_time("expires_at", body.get("expires_at")),
        max_uses=body.get("max_uses"),
    )
    location = f"/api/v1/tenants/{slug}/initial-access-tokens/{issued.token.token_id}"
    return resource(
        issued.token.public_dict(), 201, {"Location": location}, shown_once={"token": issued.secret}
    )


@bp.get(PATH)
def list_initial_access_tokens(slug: str) -> Response:
    tenant = reachable_tenant(slug, "clients:read")
    tokens = token_service.list_initial_access_tokens(services().uow(), tenant)
    return jsonify(single_page(token.public_dict() for token in tokens))


@bp.get(f"{PATH}/<token_id>")
def get_initial_access_token(slug: str, token_id: str) -> Response:
    tenant = reachable_tenant(slug, "clients:read")
    return resource(_current(tenant, token_id))


@bp.delete(f"{PATH}/<token_id>")
def delete_initial_access_token(slug: str, token_id: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "clients:write")
    with precondition(lambda: _current(tenant, token_id)):
        token_service.delete_initial_access_token(services().uow(), tenant, token_id)
    return "", 204


def _current(tenant: TenantView, token_id: str) -> dict[str, Any]:
    return token_service.get_initial_access_token(services().uow(), tenant, token_id).public_dict()
