"""`/api/v1/tenants/{slug}/settings`: branding and policies of a tenant (seed 002 settings)."""

from __future__ import annotations

from typing import Any

from flask import Response

from idp.context import services
from idp.http.api.auth import reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body
from idp.http.api.preconditions import precondition, resource
from idp.services.tenancy import tenant_settings as settings_service

BRANDING = {
    "display_name": Field(str, nullable=True),
    "logo_url": Field(str, nullable=True),
    "primary_color": Field(str, nullable=True),
    "custom_css": Field(str, nullable=True),
}
# Every policy is nullable: null resets it to its default.
POLICIES = {
    "self_registration": Field(bool, nullable=True),
    "password_min_length": Field(int, nullable=True),
    "session_lifetime": Field(int, nullable=True),
    "access_token_lifetime": Field(int, nullable=True),
    "refresh_token_idle_lifetime": Field(int, nullable=True),
    "refresh_token_absolute_lifetime": Field(int, nullable=True),
    "mfa": Field(str, nullable=True),
    "sign_in_methods": Field(list, items=str, nullable=True),
    "dynamic_registration": Field(
        dict,
        nullable=True,
        fields={
            "enabled": Field(bool, nullable=True),
            "initial_access_token_required": Field(bool, nullable=True),
        },
    ),
    "unverified_sign_in": Field(bool, nullable=True),
    "account_deletion": Field(bool, nullable=True),
    # Each declaration's members are checked by the service, which names the bad one.
    "profile_attributes": Field(list, nullable=True),
    "passkeys_rp_id": Field(str, nullable=True),
    "federation_profile_sync": Field(str, nullable=True),
}


def _current(slug: str) -> dict[str, Any]:
    container = services()
    return settings_service.get_settings(
        container.uow(), slug, container.settings.tokens
    ).public_dict()


@bp.get("/tenants/<slug>/settings")
def get_settings(slug: str) -> Response:
    reachable_tenant(slug, "tenants:read")
    return resource(_current(slug))


@bp.patch("/tenants/<slug>/settings")
def update_settings(slug: str) -> Response:
    reachable_tenant(slug, "tenants:write")
    body = parse_body(
        {"branding": Field(dict, fields=BRANDING), "policies": Field(dict, fields=POLICIES)}
    )
    container = services()
    with precondition(lambda: _current(slug)):
        updated = settings_service.update_settings(
            container.uow(),
            slug,
            body.get("branding") or {},
            body.get("policies") or {},
            container.settings.tokens,
        )
    # This worker's protocol endpoints (discovery's registration_endpoint) see it at once.
    container.tenant_cache.forget(slug)
    return resource(updated.public_dict())
