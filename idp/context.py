"""The request's collaborators: the process's services, the tenant, its issuer, the caller."""

from __future__ import annotations

from flask import current_app, g, request

from idp.services.container import Services
from idp.services.signin.sessions import SignIn
from idp.services.tenancy.tenants import TenantView, issuer_url


def services() -> Services:
    return current_app.extensions["idp.services"]  # type: ignore[no-any-return]


def current_tenant() -> TenantView:
    return g.tenant  # type: ignore[no-any-return]


def issuer_of(tenant: TenantView) -> str:
    return issuer_url(services().settings.server.public_url, tenant.slug)


def issuer() -> str:
    return issuer_of(current_tenant())


def client_ip() -> str:
    # ProxyFix (configured only with server.trust_proxy) has already applied X-Forwarded-For.
    return request.remote_addr or "unknown"


def sign_in_start_wait() -> int | None:
    """Seconds this address must wait before it may start another sign-in at this tenant, or
    None. Each start parks state in the store until it ends (an authorization request, a
    passkey challenge, the account page's own sign-in), so a stranger could otherwise fill it:
    `rate_limits.sign_ins_started_per_minute` per tenant and address, counted together."""
    return services().sign_in_starts.hit(f"{current_tenant().id}:{client_ip()}")


def sign_in_service() -> SignIn:
    """Password sign-in, for the hosted login page and the authorization challenge endpoint.
    One per process: it keeps the decoy hash that makes unknown accounts cost a verification."""
    container = services()
    return current_app.extensions.setdefault(  # type: ignore[no-any-return]
        "idp.sign_in",
        SignIn(container.passwords, container.lockout(), container.usage),
    )
