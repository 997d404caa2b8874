"""The OpenID and Google adapters against a real upstream: a second instance of this IdP
(tests/support/upstream_idp.py). The person signs in there through its hosted pages, and the
adapter redeems the code and validates the ID token the upstream really signed."""

from __future__ import annotations

import secrets

import pytest
import requests

from idp.federation import UpstreamError, provider_for
from idp.federation.base import IdentityProvider
from tests.support.browser import pkce_pair
from tests.support.upstream_idp import NAME, UpstreamIdp

CALLBACK = "http://127.0.0.1:1/t/downstream/federation/{slug}/callback"


def sign_in_through(
    upstream_idp: UpstreamIdp, adapter: IdentityProvider, callback: str, **person: str
) -> tuple[dict[str, str], str, str]:
    """Send the person to the upstream; the callback's parameters, the nonce and verifier."""
    nonce, state = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair()
    url = adapter.authorization_url(
        redirect_uri=callback, state=state, nonce=nonce, code_challenge=challenge
    )
    answer = upstream_idp.sign_in(url, **person)
    assert answer["state"] == state
    return answer, nonce, verifier


@pytest.mark.parametrize("kind", ["oidc", "google"])
def test_signing_in_at_the_upstream_gives_its_verified_identity(
    upstream_idp: UpstreamIdp, kind: str
) -> None:
    callback = CALLBACK.format(slug=kind)
    adapter = provider_for(upstream_idp.config(upstream_idp.register_client(callback), kind))
    answer, nonce, verifier = sign_in_through(upstream_idp, adapter, callback)
    assert answer["iss"] == upstream_idp.issuer
    identity = adapter.redeem_code(
        code=answer["code"], redirect_uri=callback, code_verifier=verifier, nonce=nonce
    )
    assert (identity.issuer, identity.subject) == (upstream_idp.issuer, upstream_idp.person.subject)
    assert (identity.email, identity.email_verified) == (upstream_idp.email, True)
    assert identity.name == NAME


def test_a_nonce_other_than_ours_is_refused(upstream_idp: UpstreamIdp) -> None:
    callback = CALLBACK.format(slug="oidc")
    adapter = provider_for(upstream_idp.config(upstream_idp.register_client(callback)))
    answer, _, verifier = sign_in_through(upstream_idp, adapter, callback)
    with pytest.raises(UpstreamError) as caught:
        adapter.redeem_code(
            code=answer["code"], redirect_uri=callback, code_verifier=verifier, nonce="not-ours"
        )
    assert caught.value.reason == "invalid_token"


def test_a_replayed_code_is_an_upstream_error(upstream_idp: UpstreamIdp) -> None:
    callback = CALLBACK.format(slug="oidc")
    adapter = provider_for(upstream_idp.config(upstream_idp.register_client(callback)))
    answer, nonce, verifier = sign_in_through(upstream_idp, adapter, callback)
    redeem = {"code": answer["code"], "redirect_uri": callback, "code_verifier": verifier}
    adapter.redeem_code(**redeem, nonce=nonce)
    with pytest.raises(UpstreamError) as caught:
        adapter.redeem_code(**redeem, nonce=nonce)
    assert (caught.value.reason, caught.value.detail) == ("upstream_error", "invalid_grant")


def test_an_unverified_upstream_address_is_not_vouched_for(upstream_idp: UpstreamIdp) -> None:
    email = f"unverified-{secrets.token_hex(3)}@upstream.example"
    subject = upstream_idp.add_person(email, verified=False)
    callback = CALLBACK.format(slug="oidc")
    adapter = provider_for(upstream_idp.config(upstream_idp.register_client(callback)))
    answer, nonce, verifier = sign_in_through(upstream_idp, adapter, callback, email=email)
    identity = adapter.redeem_code(
        code=answer["code"], redirect_uri=callback, code_verifier=verifier, nonce=nonce
    )
    assert (identity.subject, identity.email, identity.email_verified) == (subject, email, False)


def test_a_native_apps_id_token_for_an_allowed_audience(upstream_idp: UpstreamIdp) -> None:
    """The app's own client at the upstream got the ID token; our provider is configured with
    the web client and lists the app's client id in `allowed_audiences`."""
    callback = CALLBACK.format(slug="google")
    app = upstream_idp.register_client(callback)
    web = upstream_idp.register_client(callback)
    app_adapter = provider_for(upstream_idp.config(app, "google"))
    answer, _, verifier = sign_in_through(upstream_idp, app_adapter, callback)
    tokens = requests.post(
        f"{upstream_idp.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": callback,
            "code_verifier": verifier,
        },
        auth=(app.client.client_id, app.secret),
        timeout=5,
    ).json()
    ours = provider_for(
        upstream_idp.config(web, "google", allowed_audiences=(app.client.client_id,))
    )
    identity = ours.identity_from_id_token(tokens["id_token"])
    assert identity.subject == upstream_idp.person.subject
    foreign = provider_for(upstream_idp.config(web, "google"))
    with pytest.raises(UpstreamError) as caught:
        foreign.identity_from_id_token(tokens["id_token"])
    assert caught.value.reason == "invalid_token"
