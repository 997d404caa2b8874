"""A second instance of this IdP, on its own port and SQLite database: the upstream OpenID
provider of federation tests (issue 11), used as the generic `oidc` provider and, through the
overridable issuer, as "Google".

It has one tenant and one person with a verified e-mail address and a password. A test
registers a client whose redirect URI is the callback under test, then turns it into a
provider configuration for the IdP under test:

    client = upstream_idp.register_client(callback_url)
    config = upstream_idp.config(client)              # UpstreamConfig, kind "oidc"
    fields = upstream_idp.provider_fields(client)     # body for POST .../providers

The person signs in there with plain HTTP (`sign_in`, a `requests` session playing the
browser through the hosted pages, tests/support/browser.py), or in Chromium
(`sign_in_in_chromium(page)` once the page reached the upstream's login page). Clients are
registered with `skip_consent` by default, so the browser goes straight back to the callback.

Browsers keep cookies per host, not per port: both instances live on 127.0.0.1, so the
session cookies are told apart by tenant slug (`idp_session_{slug}`). Never name a tenant of
the IdP under test "upstream".
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests

from idp.federation.base import UpstreamConfig
from idp.services.accounts.users import UserView
from idp.services.container import Services
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from tests.support.browser import PASSWORD, Browser, query_of
from tests.support.factories import Factory
from tests.support.server import LiveServer, start_server

TENANT = "upstream"
EMAIL = "ada@upstream.example"
NAME = "Ada Upstream"


@dataclass
class UpstreamIdp:
    server: LiveServer
    tenant: TenantView
    person: UserView
    make: Factory

    email = EMAIL
    password = PASSWORD

    @property
    def issuer(self) -> str:
        return self.server.issuer(self.tenant.slug)

    def register_client(self, redirect_uri: str, *, skip_consent: bool = True) -> IssuedClient:
        """A confidential client (client_secret_basic) redirecting to `redirect_uri`."""
        return self.make.client(
            self.tenant,
            name=f"Downstream {secrets.token_hex(3)}",
            grant_types=("authorization_code",),
            redirect_uris=(redirect_uri,),
            scopes=("openid", "profile", "email"),
            skip_consent=skip_consent,
        )

    def provider_fields(self, client: IssuedClient, kind: str = "oidc") -> dict[str, Any]:
        """The management API body (or `create_provider` fields) configuring this upstream."""
        return {
            "kind": kind,
            "client_id": client.client.client_id,
            "client_secret": client.secret,
            "issuer": self.issuer,
            "scopes": ["openid", "email", "profile"],
        }

    def config(self, client: IssuedClient, kind: str = "oidc", **changes: Any) -> UpstreamConfig:
        """This upstream as an adapter's configuration, for tests of federation/ directly."""
        fields: dict[str, Any] = {
            "kind": kind,
            "slug": kind,
            "client_id": client.client.client_id,
            "client_secret": client.secret,
            "issuer": self.issuer,
            "scopes": ("openid", "email", "profile"),
            **changes,
        }
        return UpstreamConfig(**fields)

    def sign_in(
        self, authorization_url: str, http: requests.Session | None = None, **person: str
    ) -> dict[str, str]:
        """Follow `authorization_url` (an authorize URL of this upstream) as the person's
        browser: sign in (default: the verified person), consent if asked; the parameters
        the upstream sent to the redirect URI (`code`, `state`, `iss`, or `error`)."""
        assert authorization_url.startswith(f"{self.issuer}/authorize?"), authorization_url
        browser = Browser(http or requests.Session(), self.issuer)
        return browser.run(
            person.get("email", self.email),
            person.get("password", self.password),
            **query_of(authorization_url),
        )

    def sign_in_in_chromium(self, page: Any, email: str | None = None) -> None:
        """In Playwright's `page`, which the flow brought to this upstream's login page: sign
        in as the person (default: the verified one) with PASSWORD. The upstream then
        redirects the browser to the client's callback (its clients skip consent)."""
        page.wait_for_url(f"{self.issuer}/login**")
        page.get_by_label("E-mail address").fill(email or self.email)
        page.get_by_label("Password").fill(self.password)
        page.get_by_role("button", name="Sign in").click()

    def add_person(self, email: str, *, verified: bool = True, name: str | None = None) -> str:
        """Another person at the upstream, with PASSWORD; returns the upstream `sub`."""
        return _person(self.make, self.tenant, email, verified, name).subject


def _person(
    make: Factory, tenant: TenantView, email: str, verified: bool, name: str | None
) -> UserView:
    user = make.user(tenant, email, name=name, password=PASSWORD)
    with make.services.uow() as uow:
        row = uow.users.by_subject(tenant.id, user.subject)
        assert row is not None
        row.email_verified = verified
        uow.commit()
        return UserView.of(row)


def start_upstream_idp(services: Services, port: int) -> UpstreamIdp:
    """Serve `services` (built for http://127.0.0.1:`port`, migrated) as the upstream, with its
    tenant and verified person; `stop()` its `server` when done."""
    server = start_server(services, port)
    make = Factory(services, server.url)
    tenant = make.tenant(TENANT, "Upstream")
    person = _person(make, tenant, EMAIL, verified=True, name=NAME)
    return UpstreamIdp(server, tenant, person, make)
