"""`/api/v1/tenants/{slug}/clients`: client applications; secrets only on create and rotate."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from idp.context import services
from idp.http.api.auth import reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body, parse_time
from idp.http.api.paging import envelope, page_params
from idp.http.api.preconditions import precondition, resource
from idp.services.oauth_clients import clients as client_service
from idp.services.oauth_clients.clients import ClientSpec, ClientView, IssuedClient
from idp.services.tenancy.tenants import TenantView

METADATA = {
    "name": Field(str),
    "grant_types": Field(list, items=str),
    "redirect_uris": Field(list, items=str),
    "post_logout_redirect_uris": Field(list, items=str),
    "scopes": Field(list, items=str),
    "resources": Field(list, items=str),
    "jwks": Field(dict, nullable=True),
    "jwks_uri": Field(str, nullable=True),
    "access_token_lifetime": Field(int, nullable=True),
    "id_token_signed_response_alg": Field(str, nullable=True),
    "access_token_signed_alg": Field(str, nullable=True),
    "is_resource_server": Field(bool),
    "application_type": Field(str),
    "backchannel_logout_uri": Field(str, nullable=True),
    "backchannel_logout_session_required": Field(bool),
    "allowed_cors_origins": Field(list, items=str),
    "skip_consent": Field(bool),
    "first_party": Field(bool),
    "logo_uri": Field(str, nullable=True),
    "always_issue_refresh_token": Field(bool),
}


def render(client: ClientView) -> dict[str, Any]:
    return client.public_dict()


def _issued(
    issued: IssuedClient, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    secret = {"client_secret": issued.secret} if issued.secret else None
    return resource(render(issued.client), status, headers, shown_once=secret)


def _current(tenant: TenantView, client_id: str) -> dict[str, Any]:
    return render(client_service.get_client(services().uow(), tenant, client_id))


@bp.post("/tenants/<slug>/clients")
def create_client(slug: str) -> Response:
    tenant = reachable_tenant(slug, "clients:write")
    fields = {
        **METADATA,
        "name": Field(str, required=True),
        "token_endpoint_auth_method": Field(str),
    }
    body = parse_body(fields)
    method = body.get("token_endpoint_auth_method")
    spec = ClientSpec(
        name=body["name"],
        grant_types=tuple(body.get("grant_types") or ("client_credentials",)),
        redirect_uris=tuple(body.get("redirect_uris") or ()),
        post_logout_redirect_uris=tuple(body.get("post_logout_redirect_uris") or ()),
        public=method == "none",
        auth_method=method,
        scopes=tuple(body.get("scopes") or ()),
        resources=tuple(body.get("resources") or ()),
        jwks=body.get("jwks"),
        jwks_uri=body.get("jwks_uri"),
        access_token_lifetime=body.get("access_token_lifetime"),
        id_token_signed_response_alg=body.get("id_token_signed_response_alg"),
        access_token_signed_alg=body.get("access_token_signed_alg"),
        is_resource_server=bool(body.get("is_resource_server")),
        application_type=body.get("application_type", "web"),
        backchannel_logout_uri=body.get("backchannel_logout_uri"),
        backchannel_logout_session_required=bool(body.get("backchannel_logout_session_required")),
        allowed_cors_origins=tuple(body.get("allowed_cors_origins") or ()),
        skip_consent=bool(body.get("skip_consent")),
        first_party=bool(body.get("first_party")),
        logo_uri=body.get("logo_uri"),
        always_issue_refresh_token=bool(body.get("always_issue_refresh_token")),
    )
    issued = client_service.create_client(services().uow(), tenant, spec)
    location = f"/api/v1/tenants/{slug}/clients/{issued.client.client_id}"
    return _issued(issued, 201, {"Location": location})


@bp.get("/tenants/<slug>/clients")
def list_clients(slug: str) -> Response:
    tenant = reachable_tenant(slug, "clients:read")
    after, limit = page_params()
    page = client_service.page_clients(services().uow(), tenant, after, limit)
    return jsonify(envelope(page, render))


@bp.get("/tenants/<slug>/clients/<client_id>")
def get_client(slug: str, client_id: str) -> Response:
    tenant = reachable_tenant(slug, "clients:read")
    return resource(_current(tenant, client_id))


@bp.patch("/tenants/<slug>/clients/<client_id>")
def update_client(slug: str, client_id: str) -> Response:
    tenant = reachable_tenant(slug, "clients:write")
    changes = parse_body(METADATA)
    with precondition(lambda: _current(tenant, client_id)):
        updated = client_service.update_client(services().uow(), tenant, client_id, changes)
    return resource(render(updated))


@bp.post("/tenants/<slug>/clients/<client_id>/secret")
def rotate_client_secret(slug: str, client_id: str) -> Response:
    tenant = reachable_tenant(slug, "clients:write")
    keep_old_until = None
    if request.content_length:  # the body is optional: no body ends the old secret at once
        body = parse_body({"old_secret_expires_at": Field(str, nullable=True)})
        keep_old_until = parse_time("old_secret_expires_at", body.get("old_secret_expires_at"))
    with precondition(lambda: _current(tenant, client_id)):
        issued = client_service.rotate_secret(services().uow(), tenant, client_id, keep_old_until)
    return _issued(issued)


@bp.delete("/tenants/<slug>/clients/<client_id>")
def delete_client(slug: str, client_id: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "clients:write")
    with precondition(lambda: _current(tenant, client_id)):
        client_service.delete_client(services().uow(), tenant, client_id)
    return "", 204
