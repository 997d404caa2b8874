"""The upstream OpenID provider of federation tests (a second instance of this IdP) in Chromium:
the person signs in on its hosted pages and the OpenID adapter redeems what came back. Proves
the fixture the browser flow's tests build on (tests/support/upstream_idp.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from idp.federation import provider_for
from tests.support.browser import pkce_pair
from tests.support.upstream_idp import UpstreamIdp

CALLBACK = "http://127.0.0.1:1/t/downstream/federation/oidc/callback"


def test_a_person_signs_in_at_the_upstream_in_chromium(
    chromium: Any, upstream_idp: UpstreamIdp
) -> None:
    adapter = provider_for(upstream_idp.config(upstream_idp.register_client(CALLBACK)))
    verifier, challenge = pkce_pair()
    url = adapter.authorization_url(
        redirect_uri=CALLBACK,
        state="state-1",
        nonce="nonce-1",
        code_challenge=challenge,
        login_hint=upstream_idp.email,
    )
    arrived: list[str] = []
    context = chromium.new_context()
    page = context.new_page()

    def callback(route: Any) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, body="back downstream", content_type="text/plain")

    page.route(f"{CALLBACK}**", callback)
    page.goto(url)
    assert page.get_by_label("E-mail address").input_value() == upstream_idp.email
    upstream_idp.sign_in_in_chromium(page)
    page.wait_for_url(f"{CALLBACK}**")
    context.close()
    query = {name: values[0] for name, values in parse_qs(urlsplit(arrived[0]).query).items()}
    assert query["state"] == "state-1"
    identity = adapter.redeem_code(
        code=query["code"], redirect_uri=CALLBACK, code_verifier=verifier, nonce="nonce-1"
    )
    assert (identity.subject, identity.email_verified) == (upstream_idp.person.subject, True)
