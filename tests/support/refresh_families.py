"""Refresh token families made straight through the services (no HTTP), for the tests of the
refresh token service itself: a client that may refresh, the access token a family starts
with, and a family for a person of the tenant."""

from __future__ import annotations

from idp.services.container import Services
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.access_tokens import IssuedAccessToken, issue_access_token
from idp.services.tokens.refresh_tokens import FamilyGrant, IssuedRefreshToken, start_family
from tests.support.factories import Factory

ISSUER = "https://issuer.example/t/x"


def refresh_client(make: Factory, tenant: TenantView) -> IssuedClient:
    return make.client(
        tenant,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=("https://rp.example.com/cb",),
        scopes=("openid", "offline_access"),
    )


def access_token(services: Services, tenant: TenantView, client: IssuedClient) -> IssuedAccessToken:
    return issue_access_token(
        ring=services.key_cache.ring(tenant.id),
        issuer=ISSUER,
        tenant=tenant,
        client=client.client,
        subject="someone",
        scopes=["openid"],
        audience=[ISSUER],
        defaults=services.settings.tokens,
    )


def family(
    services: Services,
    make: Factory,
    tenant: TenantView,
    client: IssuedClient,
    sid: str,
    scopes: tuple[str, ...],
) -> IssuedRefreshToken:
    """A family started for a new person of `tenant`, signed in (with a password) as `sid`."""
    grant = FamilyGrant(
        client_id=client.client.client_id,
        subject=make.user(tenant).subject,
        scopes=scopes,
        sid=sid,
        auth_time=1_700_000_000,
        amr=("pwd",),
    )
    return start_family(services.uow(), tenant, grant, access_token(services, tenant, client))
