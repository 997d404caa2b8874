"""`/api/v1/tenants/{slug}/users`: the people of a tenant, created by admins (seed 004)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from idp.context import issuer_of, services
from idp.http.api.auth import reachable_tenant
from idp.http.api.blueprint import bp
from idp.http.api.bodies import Field, parse_body
from idp.http.api.paging import envelope, page_params
from idp.http.api.preconditions import precondition, resource
from idp.http.api.problems import ApiProblem
from idp.services.accounts import password_reset
from idp.services.accounts import users as user_service
from idp.services.accounts.users import UserView
from idp.services.factors import admin as factors_admin
from idp.services.federation import admin as identities_admin
from idp.services.tenancy.tenants import TenantView

ACTIVE_VALUES = {"true": True, "false": False}


def render(user: UserView) -> dict[str, Any]:
    return {"id": user.subject, **user.public_dict()}


@bp.post("/tenants/<slug>/users")
def create_user(slug: str) -> Response:
    tenant = reachable_tenant(slug, "users:write")
    body = parse_body(
        {
            "email": Field(str, required=True),
            "password": Field(str),
            "name": Field(str),
            "roles": Field(list, items=str),
            "attributes": Field(dict),
        }
    )
    container = services()
    user = user_service.create_user(
        container.uow(),
        container.passwords,
        tenant,
        body["email"],
        body.get("password"),
        name=body.get("name"),
        roles=tuple(body.get("roles") or ()),
        attributes=body.get("attributes"),
    )
    return resource(render(user), 201, {"Location": f"/api/v1/tenants/{slug}/users/{user.subject}"})


@bp.get("/tenants/<slug>/users")
def list_users(slug: str) -> Response:
    tenant = reachable_tenant(slug, "users:read")
    after, limit = page_params()
    active = request.args.get("active")
    if active is not None and active not in ACTIVE_VALUES:
        raise ApiProblem(400, "Bad request", "active must be true or false")
    page = user_service.page_users(
        services().uow(),
        tenant,
        after,
        limit,
        email=request.args.get("email"),
        text=request.args.get("q"),
        active=ACTIVE_VALUES.get(active or ""),
    )
    return jsonify(envelope(page, render))


@bp.get("/tenants/<slug>/users/<user_id>")
def get_user(slug: str, user_id: str) -> Response:
    tenant = reachable_tenant(slug, "users:read")
    return resource(_current(tenant, user_id))


def _current(tenant: TenantView, user_id: str) -> dict[str, Any]:
    return render(user_service.get_user(services().uow(), tenant, user_id))


@bp.patch("/tenants/<slug>/users/<user_id>")
def update_user(slug: str, user_id: str) -> Response:
    tenant = reachable_tenant(slug, "users:write")
    changes = parse_body(
        {
            "name": Field(str, nullable=True),
            "given_name": Field(str, nullable=True),
            "family_name": Field(str, nullable=True),
            "roles": Field(list, items=str),
            "active": Field(bool),
            "email_verified": Field(bool),
            "attributes": Field(dict),
        }
    )
    with precondition(lambda: _current(tenant, user_id)):
        updated = user_service.update_user(services().uow(), tenant, user_id, changes)
        if changes.get("active") is False:
            _sign_out_everywhere(tenant, user_id)
    return resource(render(updated))


@bp.delete("/tenants/<slug>/users/<user_id>")
def delete_user(slug: str, user_id: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "users:write")
    with precondition(lambda: _current(tenant, user_id)):
        _sign_out_everywhere(tenant, user_id)
        user_service.delete_user(services().uow(), tenant, user_id)
    return "", 204


@bp.delete("/tenants/<slug>/users/<user_id>/sessions")
def sign_out_user(slug: str, user_id: str) -> tuple[str, int]:
    """End every session of the person and revoke every access token issued to them."""
    tenant = reachable_tenant(slug, "users:write")
    _sign_out_everywhere(tenant, user_id)
    return "", 204


@bp.post("/tenants/<slug>/users/<user_id>/password-reset")
def send_password_reset(slug: str, user_id: str) -> tuple[Response, int]:
    """Mail the person a reset link, as if they had asked on the forgot-password page.

    202: the mail is queued and goes out in the background (DESIGN §12). The audit trail names
    the admin as actor (audit_trail.py)."""
    tenant = reachable_tenant(slug, "users:write")
    container = services()
    password_reset.send_reset(container.uow(), container.mailer, tenant, user_id)
    container.mailer.wake()
    return jsonify({"id": user_id, "password_reset": "sent"}), 202


@bp.get("/tenants/<slug>/users/<user_id>/factors")
def list_user_factors(slug: str, user_id: str) -> Response:
    """The person's second factors: which, since when; never a secret."""
    tenant = reachable_tenant(slug, "users:read")
    found = factors_admin.list_factors(services().uow(), tenant, user_id)
    return jsonify({"items": [factor.public_dict() for factor in found]})


@bp.delete("/tenants/<slug>/users/<user_id>/factors/<factor_type>")
def remove_user_factor(slug: str, user_id: str, factor_type: str) -> tuple[str, int]:
    tenant = reachable_tenant(slug, "users:write")
    factors_admin.remove_factor(services().uow(), tenant, user_id, factor_type)
    return "", 204


@bp.delete("/tenants/<slug>/users/<user_id>/factors/passkey/<int:passkey_id>")
def remove_user_passkey(slug: str, user_id: str, passkey_id: int) -> tuple[str, int]:
    """One passkey of the person (a lost phone), the others kept."""
    tenant = reachable_tenant(slug, "users:write")
    factors_admin.remove_passkey(services().uow(), tenant, user_id, passkey_id)
    return "", 204


@bp.delete("/tenants/<slug>/users/<user_id>/factors")
def reset_user_mfa(slug: str, user_id: str) -> tuple[str, int]:
    """Remove every second factor of the person (lost phone and recovery codes)."""
    tenant = reachable_tenant(slug, "users:write")
    factors_admin.reset_mfa(services().uow(), tenant, user_id)
    return "", 204


@bp.get("/tenants/<slug>/users/<user_id>/identities")
def list_user_identities(slug: str, user_id: str) -> Response:
    """The person's identities at upstream providers (issue 11 §3), keyed by issuer + subject."""
    tenant = reachable_tenant(slug, "users:read")
    found = identities_admin.list_user_identities(services().uow(), tenant, user_id)
    return jsonify({"items": [identity.public_dict() for identity in found]})


@bp.delete("/tenants/<slug>/users/<user_id>/identities/<int:identity_id>")
def remove_user_identity(slug: str, user_id: str, identity_id: int) -> tuple[str, int]:
    """Unlink one upstream identity; 409 when it is the person's last way in."""
    tenant = reachable_tenant(slug, "users:write")
    identities_admin.remove_user_identity(services().uow(), tenant, user_id, identity_id)
    return "", 204


def _sign_out_everywhere(tenant: TenantView, user_id: str) -> None:
    container = services()
    user_service.sign_out_everywhere(
        container.uow(),
        container.revocations,
        container.backchannel,
        issuer_of(tenant),
        tenant,
        user_id,
        container.settings.tokens,
    )


@bp.get("/tenants/<slug>/users/<user_id>/lockout")
def get_user_lockout(slug: str, user_id: str) -> Response:
    """Failures counted for the person's account (every sign-in method) and its wait, if any."""
    tenant = reachable_tenant(slug, "users:read")
    user = user_service.get_user(services().uow(), tenant, user_id)
    state = services().lockout().state(tenant, user.email)
    return jsonify({"id": user.subject, **state.public_dict()})


@bp.post("/tenants/<slug>/users/<user_id>/unlock")
def unlock_user(slug: str, user_id: str) -> tuple[str, int]:
    """Let the person sign in again at once: lift the wait and forget the failures. Audited as
    `user.unlocked` by the admin, with the state lifted (audit_trail.py)."""
    tenant = reachable_tenant(slug, "users:write")
    user = user_service.get_user(services().uow(), tenant, user_id)
    before = services().lockout().unlock(tenant, user.email)
    g.audit_details = {"lockout": before.public_dict()}
    return "", 204
