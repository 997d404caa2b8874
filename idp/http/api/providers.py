"""`/api/v1/tenants/{slug}/providers`: upstream identity providers; secrets are write-only."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from idp.context import issuer_of, services
from idp.http.api.auth import reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body
from idp.http.api.paging import single_page
from idp.http.api.preconditions import precondition, resource
from idp.services.tenancy import providers as provider_service
from idp.services.tenancy.tenants import TenantView

FIELDS = {
    "display_name": Field(str),
    "client_id": Field(str),
    "client_secret": Field(str, nullable=True),
    "issuer": Field(str, nullable=True),
    "authorization_endpoint": Field(str, nullable=True),
    "token_endpoint": Field(str, nullable=True),
    "api_base_url": Field(str, nullable=True),
    "allowed_audiences": Field(list, items=str),
    "scopes": Field(list, items=str),
    "icon_uri": Field(str, nullable=True),
    "enabled": Field(bool),
}


@bp.post("/tenants/<slug>/providers")
def create_provider(slug: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:write")
    body = parse_body(
        {
            **FIELDS,
            "kind": Field(str, required=True),
            "slug": Field(str),
            "client_id": Field(str, required=True),
        }
    )
    container = services()
    provider = provider_service.create_provider(container.uow(), container.kek, tenant, body)
    location = f"/api/v1/tenants/{slug}/providers/{provider.slug}"
    return resource(provider.public_dict(issuer_of(tenant)), 201, {"Location": location})


@bp.get("/tenants/<slug>/providers")
def list_providers(slug: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:read")
    found = provider_service.list_providers(services().provider_lookup, tenant)
    issuer = issuer_of(tenant)
    return jsonify(single_page(provider.public_dict(issuer) for provider in found))


@bp.get("/tenants/<slug>/providers/<provider>")
def get_provider(slug: str, provider: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:read")
    return resource(_current(tenant, provider))


def _current(tenant: TenantView, provider: str) -> dict[str, Any]:
    found = provider_service.get_provider(services().uow(), tenant, provider)
    return found.public_dict(issuer_of(tenant))


@bp.patch("/tenants/<slug>/providers/<provider>")
def update_provider(slug: str, provider: str) -> Response:
    tenant = reachable_tenant(slug, "tenants:write")
    changes = parse_body(FIELDS)
    container = services()
    with precondition(lambda: _current(tenant, provider)):
        updated = provider_service.update_provider(
            container.uow(), container.kek, tenant, provider, changes
        )
    return resource(updated.public_dict(issuer_of(tenant)))


@bp.delete("/tenants/<slug>/providers/<provider>")
def delete_provider(slug: str, provider: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "tenants:write")
    with precondition(lambda: _current(tenant, provider)):
        provider_service.delete_provider(services().uow(), tenant, provider)
    return "", 204
