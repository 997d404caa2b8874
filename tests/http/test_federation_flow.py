"""The hosted round trip through an upstream provider (issue 11 §2), over HTTP on both
databases: from a client's authorization request, through the button, the upstream's sign-in
and our callback, to the code at the client's redirect URI. Upstreams are real servers on
loopback: another tenant of this IdP as the generic OpenID provider and as "Google" (its issuer
overridden), and the GitHub-compatible server of tests/support/github_server.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.services.audit import AuditFilter, page_events
from idp.services.tenancy.usage import FEDERATION_METRICS, usage_report, utc_today
from tests.support.browser import REDIRECT, redeem, verified_claims
from tests.support.factories import Factory
from tests.support.federation import (
    Scene,
    add_github,
    add_provider,
    federated_scene,
    final_query,
    login_message,
    set_policies,
    start_links,
    walk,
)
from tests.support.github_server import FakeGitHub, GitHubUser, github_email
from tests.support.hostile_oidc import CLIENT_ID as HOSTILE_CLIENT_ID
from tests.support.hostile_oidc import CLIENT_SECRET as HOSTILE_CLIENT_SECRET
from tests.support.hostile_oidc import HostileOpenIdProvider
from tests.support.ports import free_port
from tests.support.upstream_idp import UpstreamIdp


@pytest.fixture
def scene(make: Factory, upstream_idp: UpstreamIdp) -> Scene:
    return federated_scene(make, upstream_idp)


def test_generic_openid_provider_creates_the_person_and_signs_in(
    scene: Scene, http: requests.Session
) -> None:
    scene.upstream.person("grace@example.org")
    claims = scene.signed_in_through(http, "grace@example.org")
    assert claims["email"] == "grace@example.org"
    assert claims["email_verified"] is True
    assert claims["name"] == "Grace Hopper"
    assert claims["amr"] == ["fed"]
    assert claims["acr"] == "1"
    # The second time the same upstream identity signs in the same person.
    with requests.Session() as again:
        assert scene.signed_in_through(again, "grace@example.org")["sub"] == claims["sub"]


def test_login_and_signup_pages_show_the_button(scene: Scene, http: requests.Session) -> None:
    page, _ = scene.login_page(http)
    assert "Continue with Acme ID" in page.text
    signup = http.get(f"{scene.issuer}/signup")
    assert "Continue with Acme ID" in signup.text
    french, _ = scene.login_page(http, ui_locales="fr")
    assert "Continuer avec Acme ID" in french.text


def test_a_providers_own_icon_is_shown_and_allowed_by_the_csp(
    scene: Scene, http: requests.Session
) -> None:
    add_provider(
        scene.make.services,
        scene.tenant,
        kind="oidc",
        slug="iconic",
        display_name="Iconic",
        client_id="x",
        issuer="https://id.iconic.example",
        icon_uri="https://icons.iconic.example/i.png",
    )
    page, _ = scene.login_page(http)
    assert '<img src="https://icons.iconic.example/i.png" alt=""' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' https://icons.iconic.example" in csp
    assert "form-action 'self' https://rp.example.com" in csp  # the buttons are links


def test_google_through_an_overridden_issuer(
    make: Factory, upstream_idp: UpstreamIdp, http: requests.Session
) -> None:
    scene = federated_scene(make, upstream_idp, "google", "google", "Google")
    scene.upstream.person("lin@example.org")
    claims = scene.signed_in_through(http, "lin@example.org", slug="google")
    assert claims["amr"] == ["fed"]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


def test_github(scene: Scene, github: FakeGitHub, http: requests.Session) -> None:
    add_github(scene.make.services, scene.tenant, github.config())
    github.add_user(GitHubUser(42, "ada", "Ada Lovelace", emails=[github_email("ada@example.org")]))
    github.signed_in = 42
    page, verifier = scene.login_page(http)
    trip = walk(http, start_links(page.text)["github"], scene.issuer, github.url)
    assert trip.location.startswith(REDIRECT), trip.response.text
    tokens = redeem(
        http,
        scene.issuer,
        scene.rp.client.client_id,
        scene.rp.secret or "",
        final_query(trip)["code"],
        verifier,
    )
    claims = verified_claims(http, scene.issuer, tokens["id_token"])
    assert (claims["email"], claims["name"], claims["amr"]) == (
        "ada@example.org",
        "Ada Lovelace",
        ["fed"],
    )


def test_cancelled_upstream_returns_to_the_login_page(
    scene: Scene, github: FakeGitHub, http: requests.Session
) -> None:
    add_github(scene.make.services, scene.tenant, github.config())
    github.cancel = True
    page, _ = scene.login_page(http)
    trip = walk(http, start_links(page.text)["github"], scene.issuer, github.url)
    assert "cancelled" in login_message(trip.response)
    assert "txn=" in trip.url  # the same authorization request goes on


def test_upstream_error_returns_to_the_login_page(
    scene: Scene, github: FakeGitHub, http: requests.Session
) -> None:
    add_github(scene.make.services, scene.tenant, github.config(client_secret="wrong-secret"))
    github.add_user(GitHubUser(7, "x", emails=[github_email("x@example.org")]))
    github.signed_in = 7
    page, _ = scene.login_page(http)
    trip = walk(http, start_links(page.text)["github"], scene.issuer, github.url)
    assert "could not sign you in" in login_message(trip.response)


def test_unreachable_upstream_returns_to_the_login_page(
    scene: Scene, http: requests.Session
) -> None:
    add_provider(
        scene.make.services,
        scene.tenant,
        kind="oidc",
        slug="down",
        display_name="Down",
        client_id="x",
        issuer=f"http://127.0.0.1:{free_port()}/nobody",
    )
    page, _ = scene.login_page(http)
    trip = walk(http, start_links(page.text)["down"], scene.issuer)
    assert "could not reach" in login_message(trip.response)


def _callback_of(scene: Scene, http: requests.Session, email: str) -> str:
    """The upstream's redirect to our callback, not followed."""
    page, _ = scene.login_page(http)
    trip = walk(
        http,
        start_links(page.text)["acme"],
        scene.issuer,
        scene.upstream.issuer,
        email,
        stop_at=f"{scene.issuer}/federation/acme/callback",
    )
    return trip.location


def test_wrong_state_is_refused(scene: Scene, http: requests.Session) -> None:
    scene.upstream.person("state@example.org")
    callback = _callback_of(scene, http, "state@example.org")
    parts = urlsplit(callback)
    code = parse_qs(parts.query)["code"][0]
    forged = f"{scene.issuer}/federation/acme/callback?code={code}&state=not-ours"
    trip = walk(http, forged, scene.issuer)
    assert "expired or was already used" in login_message(trip.response)


def test_callback_in_another_browser_is_refused(scene: Scene, http: requests.Session) -> None:
    """Login CSRF: a code and state sent to someone else's browser sign nobody in there."""
    scene.upstream.person("csrf@example.org")
    callback = _callback_of(scene, http, "csrf@example.org")
    with requests.Session() as victim:
        trip = walk(victim, callback, scene.issuer)
        assert "expired or was already used" in login_message(trip.response)


def test_replayed_callback_is_refused(scene: Scene, http: requests.Session) -> None:
    scene.upstream.person("replay@example.org")
    callback = _callback_of(scene, http, "replay@example.org")
    first = walk(http, callback, scene.issuer)
    assert first.location.startswith(REDIRECT)
    again = walk(http, callback, scene.issuer)
    assert "expired or was already used" in login_message(again.response)


def test_registration_closed_refuses_newcomers(scene: Scene, http: requests.Session) -> None:
    set_policies(scene.make.services, scene.tenant, self_registration=False)
    scene.upstream.person("closed@example.org")
    page, _ = scene.login_page(http)
    trip = walk(
        http,
        start_links(page.text)["acme"],
        scene.issuer,
        scene.upstream.issuer,
        "closed@example.org",
    )
    assert "New accounts cannot be created here" in login_message(trip.response)


def test_idp_hint_goes_straight_to_the_provider(scene: Scene, http: requests.Session) -> None:
    url, _ = scene.authorize_url(idp_hint="acme", login_hint="hint@example.org")
    trip = walk(http, url, scene.issuer, stop_at=scene.upstream.issuer)
    assert trip.location.startswith(f"{scene.upstream.issuer}/authorize")
    assert parse_qs(urlsplit(trip.location).query)["login_hint"] == ["hint@example.org"]
    unknown, _ = scene.authorize_url(idp_hint="nobody")
    page = walk(http, unknown, scene.issuer)
    assert page.response.status_code == 200 and 'name="password"' in page.response.text


def test_mfa_still_required_after_federation(scene: Scene, http: requests.Session) -> None:
    set_policies(scene.make.services, scene.tenant, mfa="required")
    scene.upstream.person("mfa@example.org")
    page, _ = scene.login_page(http)
    trip = walk(
        http, start_links(page.text)["acme"], scene.issuer, scene.upstream.issuer, "mfa@example.org"
    )
    assert trip.url.startswith(f"{scene.issuer}/mfa"), trip.url
    assert trip.response.status_code == 200


@pytest.mark.in_process  # reads the usage counters of the app in this process
def test_usage_and_audit_count_federation(
    scene: Scene, github: FakeGitHub, http: requests.Session
) -> None:
    add_github(scene.make.services, scene.tenant, github.config())
    github.cancel = True
    scene.upstream.person("counted@example.org")
    scene.signed_in_through(http, "counted@example.org")
    with requests.Session() as cancelling:
        page, _ = scene.login_page(cancelling)
        walk(cancelling, start_links(page.text)["github"], scene.issuer, github.url)
    services = scene.make.services
    services.usage.flush()
    today = utc_today()
    totals = usage_report(services.uow(), scene.tenant, today, today).totals
    assert {name: totals[name] for name in FEDERATION_METRICS} == {
        "federated_sign_ins": 1,
        "federated_signups": 1,
        "identity_links": 1,
        "identity_unlinks": 0,
        "federation_failures": 1,
    }
    assert totals["sign_ins"] == 1
    events = page_events(
        services.uow(), scene.tenant.id, False, AuditFilter(action="user.*"), None, 20
    ).items
    summary = {(e.action, e.outcome, e.details.get("method")) for e in events}
    assert ("user.signup", "success", "federation") in summary
    assert ("user.sign_in", "success", "federation") in summary
    assert ("user.sign_in", "failed", "federation") in summary


@pytest.fixture
def hostile() -> Iterator[HostileOpenIdProvider]:
    with HostileOpenIdProvider() as server:
        yield server


@pytest.mark.parametrize("bad", ["nonce", "alg_none", "audience", "expired"])
def test_untrusted_id_token_returns_to_the_login_page(
    scene: Scene, hostile: HostileOpenIdProvider, http: requests.Session, bad: str
) -> None:
    """Every ID token rule is the adapter's (tests/integration/test_federation_oidc.py); here,
    through the hosted flow, a token breaking one signs nobody in and says so."""
    add_provider(
        scene.make.services,
        scene.tenant,
        kind="oidc",
        slug="hostile",
        display_name="Hostile",
        client_id=HOSTILE_CLIENT_ID,
        client_secret=HOSTILE_CLIENT_SECRET,
        issuer=hostile.issuer,
    )
    page, _ = scene.login_page(http)
    trip = walk(http, start_links(page.text)["hostile"], scene.issuer, stop_at=hostile.issuer)
    asked = parse_qs(urlsplit(trip.location).query)
    nonce = asked["nonce"][0]
    token = {
        "nonce": hostile.id_token(nonce="another-nonce"),
        "alg_none": hostile.unsigned_token(nonce=nonce),
        "audience": hostile.id_token(nonce=nonce, aud="someone-else"),
        "expired": hostile.id_token(nonce=nonce, exp=int(time.time()) - 600),
    }[bad]
    hostile.answer_with(token)
    callback = f"{scene.issuer}/federation/hostile/callback?code=c&state={asked['state'][0]}"
    end = walk(http, callback, scene.issuer)
    assert "could not be checked" in login_message(end.response)
    assert f"idp_session_{scene.tenant.slug}" not in {cookie.name for cookie in http.cookies}
