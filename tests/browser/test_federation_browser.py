"""Each "Continue with …" button end to end in Chromium (issue 11): from a client's
authorization request, through the button, the upstream's own sign-in page and our consent,
to the code at the client's redirect URI, which the client redeems for an ID token saying
`amr: ["fed"]`. Upstreams are real servers on loopback: another tenant of this IdP as the
generic OpenID provider and as "Google", and the GitHub-compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.browser import PASSWORD, REDIRECT, redeem, verified_claims
from tests.support.factories import Factory
from tests.support.federation import (
    Scene,
    add_github,
    add_provider,
    federated_scene,
    register_upstream,
)
from tests.support.github_server import FakeGitHub, GitHubUser, github_email
from tests.support.upstream_idp import UpstreamIdp


def _through_the_button(
    chromium: Any, scene: Scene, button: str, upstream_email: str | None
) -> dict[str, Any]:
    url, verifier = scene.authorize_url()
    arrived: list[str] = []

    def client_callback(route: Any) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, body="signed in", content_type="text/plain")

    context = chromium.new_context()
    page = context.new_page()
    page.route(f"{REDIRECT}**", client_callback)
    page.goto(url)
    assert page.title().startswith("Sign in")
    page.get_by_role("link", name=button).click()
    if upstream_email is not None:  # the upstream's own login page (another tenant of ours)
        page.wait_for_url(f"{scene.upstream.issuer}/login**")
        page.get_by_label("E-mail address").fill(upstream_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{scene.issuer}/consent**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}**")
    context.close()
    assert arrived, "the browser never reached the client"
    code = parse_qs(urlsplit(arrived[-1]).query)["code"][0]
    with requests.Session() as http:
        tokens = redeem(
            http, scene.issuer, scene.rp.client.client_id, scene.rp.secret or "", code, verifier
        )
        return verified_claims(http, scene.issuer, tokens["id_token"])


def test_generic_openid_provider_button(
    chromium: Any, make: Factory, upstream_idp: UpstreamIdp
) -> None:
    scene = federated_scene(make, upstream_idp)
    scene.upstream.person("oidc@example.org")
    claims = _through_the_button(chromium, scene, "Continue with Acme ID", "oidc@example.org")
    assert (claims["email"], claims["amr"]) == ("oidc@example.org", ["fed"])


def test_google_button(chromium: Any, make: Factory, upstream_idp: UpstreamIdp) -> None:
    scene = federated_scene(make, upstream_idp)
    google = register_upstream(upstream_idp, f"{scene.issuer}/federation/google/callback")
    add_provider(
        make.services,
        scene.tenant,
        kind="google",
        slug="google",
        display_name="Google",
        client_id=google.client_id,
        client_secret=google.secret,
        issuer=google.issuer,
    )
    google.person("google@example.org")
    scene.upstream = google
    claims = _through_the_button(chromium, scene, "Continue with Google", "google@example.org")
    assert (claims["email"], claims["amr"]) == ("google@example.org", ["fed"])


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


def test_github_button(
    chromium: Any, make: Factory, upstream_idp: UpstreamIdp, github: FakeGitHub
) -> None:
    scene = federated_scene(make, upstream_idp)
    add_github(make.services, scene.tenant, github.config())
    github.add_user(GitHubUser(9, "octo", "Octo Cat", emails=[github_email("octo@example.org")]))
    github.signed_in = 9
    claims = _through_the_button(chromium, scene, "Continue with GitHub", None)
    assert (claims["email"], claims["name"], claims["amr"]) == (
        "octo@example.org",
        "Octo Cat",
        ["fed"],
    )


def test_account_page_connects_a_provider(
    chromium: Any, make: Factory, upstream_idp: UpstreamIdp
) -> None:
    """The "Connect" form's answer moves on to the upstream by itself: no CSP form-action
    stands in the way (pages/account_federation.py)."""
    scene = federated_scene(make, upstream_idp)
    person = make.user(scene.tenant, email="local@example.org", password=PASSWORD)
    scene.upstream.person("elsewhere@example.org")
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{scene.issuer}/account")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{scene.issuer}/account**")
    page.get_by_role("button", name="Connect Acme ID").click()
    page.wait_for_url(f"{scene.upstream.issuer}/login**")
    page.get_by_label("E-mail address").fill("elsewhere@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{scene.issuer}/account?done=federation_linked")
    assert page.get_by_role("button", name="Disconnect Acme ID").is_visible()
    context.close()
