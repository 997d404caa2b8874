"""What the federation flow tests share: the second instance of this IdP as the upstream
OpenID provider (tests/support/upstream_idp.py: discovery, JWKS, code flow with PKCE and real
ID tokens, over HTTP), providers configured as an operator would, and a `requests` browser that
walks the whole round trip by following redirects and posting the pages' forms."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import requests

from idp.federation.base import UpstreamConfig
from idp.services.container import Services
from idp.services.errors import Conflict
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy import providers as provider_service
from idp.services.tenancy import tenant_settings
from idp.services.tenancy.tenants import TenantView, get_tenant
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    Browser,
    code_request,
    hidden_fields,
    pkce_pair,
    query_of,
    redeem,
    verified_claims,
)
from tests.support.factories import Factory
from tests.support.upstream_idp import UpstreamIdp

UPSTREAM_SECRET = "upstream-client-secret-0123456789"
START_LINK = re.compile(r'href="([^"]*/federation/[^"/]+/start[^"]*)"')


@dataclass
class Upstream:
    """The second instance of this IdP (tests/support/upstream_idp.py) with a client of ours
    registered there: the generic OpenID provider, or "Google" through its issuer."""

    idp: UpstreamIdp
    client_id: str
    secret: str

    @property
    def issuer(self) -> str:
        return self.idp.issuer

    def person(self, email: str, verified: bool = True) -> str:
        """A person with PASSWORD there (the instance outlives a test: made once, its address
        then marked as asked); the upstream `sub`."""
        try:
            return self.idp.add_person(email, verified=verified, name="Grace Hopper")
        except Conflict:
            with self.idp.make.services.uow() as uow:
                row = uow.users.by_email(self.idp.tenant.id, email)
                assert row is not None
                row.email_verified = verified
                uow.commit()
                return row.subject


def register_upstream(idp: UpstreamIdp, callback: str) -> Upstream:
    issued = idp.register_client(callback)
    assert issued.secret
    return Upstream(idp, issued.client.client_id, issued.secret)


def add_provider(services: Services, tenant: TenantView, **columns: Any) -> None:
    """A provider as the operator configured it; columns the create call may not take (GitHub's
    endpoints, an overridden Google issuer) are set on the row after."""
    issuer = columns.get("issuer")
    fields = {
        key: columns.pop(key)
        for key in ("kind", "slug", "client_id", "client_secret", "issuer", "display_name")
        if key in columns
    }
    if fields["kind"] != "oidc":
        fields.pop("issuer", None)
    provider_service.create_provider(services.uow(), services.kek, tenant, fields)
    with services.uow() as uow:
        row = provider_service._find(uow, tenant.id, fields.get("slug") or fields["kind"])
        assert row is not None
        for key, value in columns.items():
            setattr(row, key, value)
        if issuer and fields["kind"] != "github":
            row.issuer = issuer
        uow.commit()


def add_github(services: Services, tenant: TenantView, config: UpstreamConfig) -> None:
    add_provider(
        services,
        tenant,
        kind="github",
        slug=config.slug,
        display_name="GitHub",
        client_id=config.client_id,
        client_secret=config.client_secret,
        authorization_endpoint=config.authorization_endpoint,
        token_endpoint=config.token_endpoint,
        api_base_url=config.api_base_url,
    )


def set_policies(services: Services, tenant: TenantView, **policies: Any) -> TenantView:
    tenant_settings.update_settings(
        services.uow(), tenant.slug, {}, policies, services.settings.tokens
    )
    return get_tenant(services.uow(), tenant.slug)


def start_links(page: str) -> dict[str, str]:
    """The provider buttons of a page: {slug: href}."""
    links = [html.unescape(href) for href in START_LINK.findall(page)]
    return {link.split("/federation/")[1].split("/")[0]: link for link in links}


@dataclass
class RoundTrip:
    """Where a walk through the pages stopped: the last response and the URL it answered."""

    response: requests.Response
    url: str

    @property
    def location(self) -> str:
        return self.response.headers.get("Location", "")


def walk(
    http: requests.Session,
    start: str,
    ours: str,
    upstream: str | None = None,
    upstream_email: str | None = None,
    consent: bool = True,
    stop_at: str | None = None,
) -> RoundTrip:
    """Follow redirects from `start` through our issuer and the upstream's origin (`upstream`),
    signing in there (an issuer of ours: `upstream_email` and PASSWORD) and consenting here,
    until a redirect leaves both (the client), a page answers, or one starts with `stop_at`."""
    url = start
    response = http.get(url, allow_redirects=False)
    for _ in range(20):
        if response.status_code not in (302, 303):
            return RoundTrip(response, url)
        location = response.headers["Location"]
        if stop_at and location.startswith(stop_at):
            return RoundTrip(response, url)
        if upstream_email and location.startswith(f"{upstream}/login"):
            response = Browser(http, upstream).sign_in(location, upstream_email or "", PASSWORD)
            url = f"{upstream}/login"
            continue
        if consent and location.startswith(f"{ours}/consent"):
            response = Browser(http, ours).consent(location)
            url = f"{ours}/consent"
            continue
        if not location.startswith(ours) and not (upstream and location.startswith(upstream)):
            return RoundTrip(response, url)
        url = location
        response = http.get(url, allow_redirects=False)
    raise AssertionError("the round trip did not end")


def final_query(trip: RoundTrip) -> dict[str, str]:
    return query_of(trip.location)


def post_form(http: requests.Session, page: requests.Response, action: str, **fields: str) -> Any:
    return http.post(action, data=hidden_fields(page.text) | fields, allow_redirects=False)


@dataclass
class Scene:
    """A downstream tenant (ours) federating with an upstream tenant ("acme", generic OpenID),
    and a client of ours; self-registration open."""

    tenant: TenantView
    issuer: str
    upstream: Upstream
    rp: IssuedClient
    make: Factory

    def authorize_url(self, **extra: str) -> tuple[str, str]:
        verifier, challenge = pkce_pair()
        query = code_request(self.rp.client.client_id, challenge, **extra)
        request = requests.Request("GET", f"{self.issuer}/authorize", params=query).prepare()
        assert request.url
        return request.url, verifier

    def login_page(self, http: requests.Session, **extra: str) -> tuple[requests.Response, str]:
        url, verifier = self.authorize_url(**extra)
        trip = walk(http, url, self.issuer, stop_at=f"{self.issuer}/login")
        page = http.get(trip.location)
        assert page.status_code == 200
        return page, verifier

    def through_button(self, http: requests.Session, email: str, slug: str = "acme") -> RoundTrip:
        """From a fresh authorization request through the button until the pages stop."""
        page, _ = self.login_page(http)
        return walk(http, start_links(page.text)[slug], self.issuer, self.upstream.issuer, email)

    def signed_in_through(
        self, http: requests.Session, email: str, slug: str = "acme", **extra: str
    ) -> dict[str, Any]:
        """The whole flow to the client, which redeems its code: the ID token's claims."""
        page, verifier = self.login_page(http, **extra)
        trip = walk(http, start_links(page.text)[slug], self.issuer, self.upstream.issuer, email)
        assert trip.location.startswith(REDIRECT), (trip.response.status_code, trip.response.text)
        query = final_query(trip)
        assert query["state"] == "st-123"
        tokens = redeem(
            http,
            self.issuer,
            self.rp.client.client_id,
            self.rp.secret or "",
            query["code"],
            verifier,
        )
        return verified_claims(http, self.issuer, tokens["id_token"])


def federated_scene(
    make: Factory,
    idp: UpstreamIdp,
    kind: str = "oidc",
    slug: str = "acme",
    display_name: str = "Acme ID",
) -> Scene:
    """Our tenant with the second IdP instance as provider `slug` (generic OpenID, or "Google"
    through its issuer), self-registration open, and a client of ours."""
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    upstream = register_upstream(idp, f"{issuer}/federation/{slug}/callback")
    add_provider(
        make.services,
        tenant,
        kind=kind,
        slug=slug,
        display_name=display_name,
        client_id=upstream.client_id,
        client_secret=upstream.secret,
        issuer=upstream.issuer,
    )
    tenant = set_policies(make.services, tenant, self_registration=True)
    rp = make.client(
        tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email", "roles"),
    )
    return Scene(tenant, issuer, upstream, rp, make)


def login_message(page: requests.Response) -> str:
    """The one form-level message of a page (components/forms.html `message`)."""
    assert page.status_code in (200, 400, 401, 409), page.status_code
    found = page.text.split('<p class="message" role="alert">')
    assert len(found) == 2, page.text
    return found[1].split("</p>")[0]
