"""Who is calling: an API key or an OAuth access token, both as `Authorization: Bearer`."""

from __future__ import annotations

from flask import g, request

from idp.context import services
from idp.crypto.secrets import API_KEY_PREFIX
from idp.http.api.problems import ApiProblem
from idp.services.errors import NotFound
from idp.services.management.api_keys import Principal, authenticate_api_key
from idp.services.management.api_principals import principal_from_access_token
from idp.services.tenancy.tenants import TenantView, get_tenant

PUBLIC_ENDPOINTS = frozenset({"api.openapi_document_view", "api.reference"})


def authenticate() -> None:
    """Runs before every API view; public documentation needs no credentials."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    principal = None
    if scheme.lower() == "bearer" and credential:
        container = services()
        if credential.startswith(API_KEY_PREFIX):
            principal = authenticate_api_key(container.uow(), credential)
        else:
            principal = principal_from_access_token(container, credential)
    if principal is None:
        raise ApiProblem(
            401,
            "Unauthorized",
            "Send a valid API key or access token as `Authorization: Bearer ...`.",
            headers={"WWW-Authenticate": 'Bearer realm="idp", error="invalid_token"'},
        )
    g.principal = principal


def principal() -> Principal:
    return g.principal  # type: ignore[no-any-return]


def require(scope: str) -> Principal:
    """The caller, if it holds `scope`; 403 otherwise."""
    caller = principal()
    if not caller.can(scope):
        raise ApiProblem(403, "Forbidden", f"This call needs the '{scope}' scope.")
    return caller


def require_platform(scope: str, detail: str) -> Principal:
    """The caller, if it is a platform key holding `scope`; 403 otherwise (`detail` says why)."""
    caller = require(scope)
    if not caller.is_platform:
        raise ApiProblem(403, "Forbidden", detail)
    return caller


def reachable_tenant(slug: str, scope: str) -> TenantView:
    """The tenant at `slug` if the caller may act on it with `scope`.

    A tenant the caller cannot reach is answered 404, exactly like one that does not exist,
    so a key of tenant A learns nothing about tenant B.
    """
    caller = require(scope)
    try:
        # Read fresh, not from the protocol cache: an admin sees their own change at once.
        tenant = get_tenant(services().uow(), slug)
    except NotFound:
        tenant = None
    if tenant is None or not caller.reaches(tenant.id):
        raise ApiProblem(404, "Not found", f"no tenant '{slug}'")
    g.api_tenant = tenant  # the audit trail files this request's write under it
    return tenant
