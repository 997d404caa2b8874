"""RFC 8693 token exchange for native sign-in with an upstream token (issue 11 §4), both
databases: a Google ID token (from another tenant of this IdP acting as "Google" through the
overridable issuer, and from a scripted upstream for the tokens no honest IdP issues), GitHub
access tokens and codes against a GitHub-compatible server on loopback, the linking rules,
refresh, audit, and who may exchange at all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from idp.crypto.keys import generate_private_jwk
from idp.models.federated_identities import FederatedIdentity
from idp.services.audit import AuditFilter, page_events
from idp.services.container import Services
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy import providers as provider_service
from idp.services.tenancy import tenant_settings
from idp.services.tenancy.tenants import TenantView, get_tenant
from idp.services.tenancy.usage import usage_report, utc_today
from tests.http.conftest import oauth_error
from tests.support.account import set_tenant_columns
from tests.support.browser import (
    REDIRECT,
    Browser,
    code_request,
    pkce_pair,
    redeem,
    verified_claims,
)
from tests.support.factories import Factory
from tests.support.github_server import FakeGitHub, GitHubUser, github_email
from tests.support.hostile_oidc import HostileOpenIdProvider
from tests.support.ports import free_port
from tests.support.upstream_idp import UpstreamIdp

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
GITHUB_CODE = "urn:idp:params:oauth:token-type:github-authorization-code"
SCOPE = "openid email offline_access"


def add_provider(
    services: Services, tenant: TenantView, kind: str, slug: str, client_id: str, **fields: Any
) -> None:
    """A provider of `tenant`, as the management API makes it (issuer, GitHub endpoints and
    allowed audiences overridable, issue 11 §1)."""
    fields |= {"kind": kind, "slug": slug, "client_id": client_id}
    provider_service.create_provider(services.uow(), services.kek, tenant, fields)


class App:
    """A first-party native app of a tenant open to registration, exchanging at its token
    endpoint."""

    def __init__(self, make: Factory, http: requests.Session, **spec: Any) -> None:
        services = make.services
        tenant = make.tenant()
        tenant_settings.update_settings(
            services.uow(), tenant.slug, {}, {"self_registration": True}, services.settings.tokens
        )
        self.make, self.http, self.services = make, http, services
        self.tenant = get_tenant(services.uow(), tenant.slug)
        self.issuer = make.issuer(self.tenant)
        spec.setdefault("grant_types", (EXCHANGE, "refresh_token"))
        self.client: IssuedClient = make.client(
            self.tenant, scopes=("openid", "email", "profile", "offline_access"), **spec
        )

    def exchange(self, token: str, token_type: str = ID_TOKEN, **extra: str) -> Any:
        data = {
            "grant_type": EXCHANGE,
            "subject_token": token,
            "subject_token_type": token_type,
            "scope": SCOPE,
            **extra,
        }
        auth = (self.client.client.client_id, self.client.secret or "")
        return self.http.post(f"{self.issuer}/token", data=data, auth=auth)

    def claims(self, body: dict[str, Any]) -> dict[str, Any]:
        return verified_claims(self.http, self.issuer, body["id_token"])

    def events(self, action: str) -> list[Any]:
        found = AuditFilter(action=action)
        return page_events(self.services.uow(), self.tenant.id, False, found, None, 50).items


@pytest.fixture
def app(make: Factory, http: requests.Session) -> App:
    return App(make, http)


class Google:
    """The second instance of this IdP (tests/support/upstream_idp.py) playing Google: the
    person signs in there to the app's own client (its "Android client id"), and the app posts
    the ID token it got."""

    def __init__(self, upstream: UpstreamIdp) -> None:
        self.upstream = upstream
        self.android = upstream.register_client(REDIRECT)

    def id_token(self) -> str:
        with requests.Session() as http:
            browser = Browser(http, self.upstream.issuer)
            verifier, challenge = pkce_pair()
            client_id, secret = self.android.client.client_id, self.android.secret or ""
            params = code_request(client_id, challenge, scope="openid email profile")
            query = browser.run(self.upstream.email, self.upstream.password, **params)
            body = redeem(http, self.upstream.issuer, client_id, secret, query["code"], verifier)
        return str(body["id_token"])

    def configure(self, app: App) -> None:
        add_provider(
            app.services,
            app.tenant,
            "google",
            "google",
            "our-web-client.apps.googleusercontent.test",
            issuer=self.upstream.issuer,
            allowed_audiences=[self.android.client.client_id],
        )


@pytest.fixture
def google(upstream_idp: UpstreamIdp, app: App) -> Google:
    upstream = Google(upstream_idp)
    upstream.configure(app)
    return upstream


@pytest.fixture
def scripted(app: App) -> Iterator[HostileOpenIdProvider]:
    """A scripted upstream as the tenant's "google", for tokens no honest IdP issues."""
    with HostileOpenIdProvider() as upstream:
        config = upstream.config()
        add_provider(app.services, app.tenant, "google", "google", config.client_id,
                     issuer=upstream.issuer)  # fmt: skip
        yield upstream


@pytest.fixture
def github(app: App) -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_user(GitHubUser(42, "ada", "Ada", emails=[github_email("ada@example.org")]))
        config = server.config()
        add_provider(
            app.services,
            app.tenant,
            "github",
            "github",
            config.client_id,
            client_secret=config.client_secret,
            authorization_endpoint=config.authorization_endpoint,
            token_endpoint=config.token_endpoint,
            api_base_url=config.api_base_url,
        )
        yield server


def test_a_google_id_token_signs_the_person_in(app: App, google: Google) -> None:
    answer = app.exchange(google.id_token())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued_token_type"] == ACCESS_TOKEN
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert {"access_token", "refresh_token", "id_token"} <= set(body)
    claims = app.claims(body)
    assert (claims["email"], claims["email_verified"]) == (google.upstream.email, True)
    assert (claims["amr"], claims["acr"]) == (["fed"], "1")
    assert claims["aud"] == app.client.client.client_id and claims["sid"]
    # The same Google account again is the same person here; the refresh family rotates.
    again = app.claims(app.exchange(google.id_token()).json())
    assert again["sub"] == claims["sub"]
    refreshed = app.http.post(
        f"{app.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(app.client.client.client_id, app.client.secret or ""),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != body["refresh_token"]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda up: up.id_token(exp=int(time.time()) - 3600), id="expired"),
        pytest.param(lambda up: up.id_token(aud="someone-else"), id="foreign-audience"),
        pytest.param(lambda up: up.id_token(iss="https://evil.example"), id="foreign-issuer"),
        pytest.param(
            lambda up: up.id_token(jwk=generate_private_jwk("RS256", "key-1")), id="other-key"
        ),
        pytest.param(lambda up: up.unsigned_token(), id="alg-none"),
        pytest.param(lambda up: up.hs256_token(), id="hs256-with-our-secret"),
        pytest.param(lambda up: "not.a.jwt", id="garbage"),
    ],
)
def test_an_id_token_that_fails_validation_is_invalid_grant(
    app: App, scripted: HostileOpenIdProvider, forge: Any
) -> None:
    assert app.exchange(scripted.id_token()).status_code == 200  # the honest one works
    assert oauth_error(app.exchange(forge(scripted))) == (400, "invalid_grant")


@pytest.mark.in_process  # reads the usage counters of the app in this process
def test_failures_and_successes_are_audited(app: App, scripted: HostileOpenIdProvider) -> None:
    app.exchange(scripted.id_token(aud="someone-else"))
    assert app.exchange(scripted.id_token()).status_code == 200
    sign_ins = app.events("user.sign_in")
    seen = {(e.outcome, e.details.get("method"), e.details.get("via")) for e in sign_ins}
    assert seen == {
        ("failed", "federation", "token_exchange"),
        ("success", "federation", "token_exchange"),
    }
    assert len(app.events("user.signup")) == 1  # created just in time
    app.services.usage.flush()
    today = utc_today()
    totals = usage_report(app.services.uow(), app.tenant, today, today).totals
    counted = ("federated_sign_ins", "federated_signups", "federation_failures", "sign_ins")
    assert {name: totals[name] for name in counted} == dict.fromkeys(counted, 1)
    assert totals["tokens_issued"] == 1


def test_unsupported_requests_are_invalid_request(
    app: App, scripted: HostileOpenIdProvider
) -> None:
    token = scripted.id_token()
    saml = "urn:ietf:params:oauth:token-type:saml2"
    assert oauth_error(app.exchange(token, saml)) == (400, "invalid_request")
    assert oauth_error(app.exchange(token, actor_token="x", actor_token_type=ID_TOKEN)) == (
        400,
        "invalid_request",
    )
    assert oauth_error(app.exchange(token, subject_issuer="nobody")) == (400, "invalid_request")
    assert oauth_error(app.exchange(token, requested_token_type=ID_TOKEN)) == (
        400,
        "invalid_request",
    )
    assert oauth_error(app.exchange(token, audience="https://api.example.com")) == (
        400,
        "invalid_target",
    )
    assert oauth_error(app.exchange("")) == (400, "invalid_request")
    assert oauth_error(app.exchange("x" * 9000)) == (400, "invalid_request")


def test_a_client_without_the_grant_type_is_unauthorized(
    make: Factory, http: requests.Session
) -> None:
    app = App(
        make,
        http,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        first_party=True,
    )
    assert oauth_error(app.exchange("any")) == (400, "unauthorized_client")


def test_subject_issuer_picks_among_several_providers(
    app: App, scripted: HostileOpenIdProvider
) -> None:
    # Two providers take ID tokens ("google", scripted, and another): the app names one.
    add_provider(
        app.services, app.tenant, "oidc", "corporate", "corp", issuer="https://corp.example"
    )
    token = scripted.id_token()
    assert oauth_error(app.exchange(token)) == (400, "invalid_request")
    assert app.exchange(token, subject_issuer="google").status_code == 200


def test_a_github_access_token_of_our_app_signs_in(app: App, github: FakeGitHub) -> None:
    answer = app.exchange(github.issue_token(42), ACCESS_TOKEN)
    assert answer.status_code == 200, answer.text
    claims = app.claims(answer.json())
    assert (claims["email"], claims["amr"]) == ("ada@example.org", ["fed"])
    another_apps = github.issue_token(42, client_id="another-app")
    assert oauth_error(app.exchange(another_apps, ACCESS_TOKEN)) == (400, "invalid_grant")


def test_a_github_code_is_redeemed_once(app: App, github: FakeGitHub) -> None:
    code = github.issue_code(42, redirect_uri="com.example.app:/github")
    answer = app.exchange(code, GITHUB_CODE, redirect_uri="com.example.app:/github")
    assert answer.status_code == 200, answer.text
    assert oauth_error(app.exchange(code, GITHUB_CODE)) == (400, "invalid_grant")
    wrong_uri = github.issue_code(42, redirect_uri="com.example.app:/github")
    assert oauth_error(app.exchange(wrong_uri, GITHUB_CODE, redirect_uri="x:/y")) == (
        400,
        "invalid_grant",
    )


def test_a_verified_upstream_address_does_not_take_over_an_unverified_account(
    app: App, scripted: HostileOpenIdProvider, services: Services
) -> None:
    victim = app.make.user(app.tenant, email="ada@example.org")  # unverified here
    refused = app.exchange(scripted.id_token(email="ada@example.org", email_verified=True))
    assert oauth_error(refused) == (400, "invalid_grant")
    assert "sign in to it" in refused.json()["error_description"]
    (event,) = app.events("user.sign_in")
    assert (event.outcome, event.details["reason"]) == ("failed", "link proof")
    with services.uow() as uow:
        links = uow.session.query(FederatedIdentity).filter_by(tenant_id=app.tenant.id).count()
    assert links == 0, victim


def test_a_second_factor_policy_is_for_the_challenge_endpoint_or_the_browser(
    app: App, scripted: HostileOpenIdProvider, services: Services
) -> None:
    set_tenant_columns(services, app.tenant, mfa_policy="required")
    refused = app.exchange(scripted.id_token())
    assert oauth_error(refused) == (400, "invalid_grant")
    (event,) = app.events("user.sign_in")
    assert (event.outcome, event.details["reason"]) == ("failed", "second factor due")


def test_discovery_lists_the_grant_type(app: App) -> None:
    metadata = app.http.get(f"{app.issuer}/.well-known/openid-configuration").json()
    assert EXCHANGE in metadata["grant_types_supported"]


def test_refused_subject_tokens_are_rate_limited_per_address(
    app: App, scripted: HostileOpenIdProvider, services: Services
) -> None:
    limit = services.settings.rate_limits.failed_auth_per_minute
    forged = scripted.unsigned_token()
    for _ in range(limit):
        assert oauth_error(app.exchange(forged)) == (400, "invalid_grant")
    blocked = app.exchange(forged)
    assert oauth_error(blocked) == (429, "invalid_grant")
    assert int(blocked.headers["Retry-After"]) > 0
    # Blocked before any check, from client authentication on (one budget per address for
    # every credential): even an honest token waits.
    assert oauth_error(app.exchange(scripted.id_token()))[0] == 429


def test_a_provider_of_another_tenant_is_no_provider_here(
    app: App, scripted: HostileOpenIdProvider, make: Factory, http: requests.Session
) -> None:
    elsewhere = App(make, http)  # a tenant without providers
    assert app.exchange(scripted.id_token()).status_code == 200
    assert oauth_error(elsewhere.exchange(scripted.id_token())) == (400, "invalid_request")


def test_an_upstream_that_does_not_answer_is_a_503(app: App) -> None:
    add_provider(
        app.services, app.tenant, "github", "github", "gh", client_secret="s",
        api_base_url=f"http://127.0.0.1:{free_port()}/api/v3",
    )  # fmt: skip
    answer = app.exchange("gho_token", ACCESS_TOKEN)
    assert oauth_error(answer) == (503, "temporarily_unavailable")
    assert int(answer.headers["Retry-After"]) > 0
