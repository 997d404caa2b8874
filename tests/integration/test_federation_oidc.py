"""The generic OpenID adapter against a scripted upstream over real HTTP: every ID token rule
(OIDC Core §3.1.3.7), discovery, keys, client authentication and upstream failures."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from idp.crypto.keys import generate_private_jwk
from idp.federation import UpstreamError, UpstreamIdentity, provider_for
from idp.federation.http import UpstreamHttp
from idp.federation.oidc import OpenIdProvider
from tests.support.hostile_oidc import CLIENT_ID, CLIENT_SECRET, HostileOpenIdProvider
from tests.support.loopback_http import Reply
from tests.support.upstream_errors import refused

REDIRECT_URI = "http://127.0.0.1:1/t/acme/federation/oidc/callback"


@pytest.fixture
def upstream() -> Iterator[HostileOpenIdProvider]:
    with HostileOpenIdProvider() as server:
        yield server


@pytest.fixture
def adapter(upstream: HostileOpenIdProvider) -> OpenIdProvider:
    adapter = provider_for(upstream.config())
    assert isinstance(adapter, OpenIdProvider)
    return adapter


Redeem = Callable[..., UpstreamIdentity]


@pytest.fixture
def redeem(upstream: HostileOpenIdProvider, adapter: OpenIdProvider) -> Redeem:
    """Queue `token` at the upstream's token endpoint and redeem a code through the adapter."""

    def run(token: str | None = None, nonce: str | None = "the-nonce") -> UpstreamIdentity:
        if token is not None:
            upstream.answer_with(token)
        return adapter.redeem_code(
            code="code-1", redirect_uri=REDIRECT_URI, code_verifier="verifier-1", nonce=nonce
        )

    return run


def test_a_valid_id_token_gives_the_verified_identity(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    identity = redeem(upstream.id_token())
    assert (identity.issuer, identity.subject) == (upstream.issuer, "upstream-subject-1")
    assert (identity.email, identity.email_verified, identity.name) == (
        "ada@example.org",
        True,
        "Ada Lovelace",
    )
    (token_request,) = [r for r in upstream.requests if r.path == upstream.path("/token")]
    assert token_request.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "verifier-1",
    }
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_request.header("Authorization") == f"Basic {basic}"


def test_client_secret_post_when_the_upstream_only_takes_that(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    upstream.discovery_overrides["token_endpoint_auth_methods_supported"] = ["client_secret_post"]
    redeem(upstream.id_token())
    (token_request,) = [r for r in upstream.requests if r.path == upstream.path("/token")]
    assert token_request.header("Authorization") == ""
    assert token_request.form["client_id"] == CLIENT_ID
    assert token_request.form["client_secret"] == CLIENT_SECRET


def test_a_public_client_only_names_itself(upstream: HostileOpenIdProvider) -> None:
    adapter = provider_for(upstream.config(client_secret=None))
    upstream.answer_with(upstream.id_token())
    adapter.redeem_code(code="c", redirect_uri=REDIRECT_URI, code_verifier="v", nonce="the-nonce")
    (token_request,) = [r for r in upstream.requests if r.path == upstream.path("/token")]
    assert token_request.header("Authorization") == ""
    assert token_request.form["client_id"] == CLIENT_ID
    assert "client_secret" not in token_request.form


def test_the_authorization_url_carries_state_nonce_pkce_and_login_hint(
    upstream: HostileOpenIdProvider, adapter: OpenIdProvider
) -> None:
    url = adapter.authorization_url(
        redirect_uri=REDIRECT_URI,
        state="s t",
        nonce="n",
        code_challenge="c",
        login_hint="ada@example.org",
    )
    assert url.startswith(f"{upstream.issuer}/authorize?")
    for part in (
        "response_type=code",
        f"client_id={CLIENT_ID}",
        "scope=openid+email",
        "state=s+t",
        "nonce=n",
        "code_challenge=c",
        "code_challenge_method=S256",
        "login_hint=ada%40example.org",
    ):
        assert part in url.split("?", 1)[1].split("&")


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"iss": "https://evil.example"}, id="wrong-iss"),
        pytest.param({"iss": None}, id="no-iss"),
        pytest.param({"aud": "someone-else"}, id="wrong-aud"),
        pytest.param({"aud": ["someone-else", "another"], "azp": "someone-else"}, id="aud-list"),
        pytest.param({"aud": [CLIENT_ID, "another"]}, id="several-aud-no-azp"),
        pytest.param({"aud": [CLIENT_ID, "another"], "azp": "another"}, id="azp-not-us"),
        pytest.param({"azp": "another"}, id="single-aud-wrong-azp"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"iat": int(time.time()) + 3600}, id="iat-in-future"),
        pytest.param({"iat": int(time.time()) - 3 * 24 * 3600}, id="iat-too-old"),
        pytest.param({"nonce": "another-nonce"}, id="nonce-mismatch"),
        pytest.param({"nonce": None}, id="no-nonce"),
        pytest.param({"sub": None}, id="no-sub"),
    ],
)
def test_an_id_token_breaking_a_rule_is_refused(
    upstream: HostileOpenIdProvider, redeem: Redeem, claims: dict[str, Any]
) -> None:
    assert refused(lambda: redeem(upstream.id_token(**claims))) == "invalid_token"


def test_several_audiences_with_our_azp_are_accepted(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    identity = redeem(upstream.id_token(aud=[CLIENT_ID, "another"], azp=CLIENT_ID))
    assert identity.subject == "upstream-subject-1"


def test_an_unsigned_token_is_refused(upstream: HostileOpenIdProvider, redeem: Redeem) -> None:
    assert refused(lambda: redeem(upstream.unsigned_token())) == "invalid_token"


def test_hs256_keyed_with_our_client_secret_is_refused(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    assert refused(lambda: redeem(upstream.hs256_token())) == "invalid_token"


def test_a_token_signed_by_an_unpublished_key_is_refused(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    forged = generate_private_jwk("RS256", "key-1")  # the published kid, another key
    assert refused(lambda: redeem(upstream.id_token(jwk=forged))) == "invalid_token"


def test_a_token_whose_alg_is_not_its_keys_is_refused(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    """The published key says RS256; a PS256 signature by the same key is still refused."""
    key = upstream.published[0]
    token = upstream.id_token(jwk={**key, "alg": "PS256"})
    assert refused(lambda: redeem(token)) == "invalid_token"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_other_asymmetric_algorithms_are_accepted(alg: str) -> None:
    with HostileOpenIdProvider(alg=alg) as upstream:
        upstream.answer_with(upstream.id_token())
        identity = provider_for(upstream.config()).redeem_code(
            code="c", redirect_uri=REDIRECT_URI, code_verifier="v", nonce="the-nonce"
        )
    assert identity.subject == "upstream-subject-1"


def test_an_unknown_kid_fetches_the_keys_once_more_but_not_at_every_token(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    redeem(upstream.id_token())
    assert upstream.hits(upstream.path("/jwks")) == 1
    rotated = upstream.rotate()
    identity = redeem(upstream.id_token(jwk=rotated))
    assert identity.subject == "upstream-subject-1"
    assert upstream.hits(upstream.path("/jwks")) == 2
    for attempt in range(3):
        forged = generate_private_jwk("RS256", f"made-up-{attempt}")
        assert refused(lambda key=forged: redeem(upstream.id_token(jwk=key))) == "invalid_token"
    assert upstream.hits(upstream.path("/jwks")) == 2


def test_discovery_naming_another_issuer_is_refused(upstream: HostileOpenIdProvider) -> None:
    upstream.discovery_overrides["issuer"] = upstream.issuer + "/"
    adapter = provider_for(upstream.config())
    assert (
        refused(
            lambda: adapter.authorization_url(
                redirect_uri=REDIRECT_URI, state="s", nonce="n", code_challenge="c"
            )
        )
        == "bad_response"
    )


def test_discovery_is_cached(upstream: HostileOpenIdProvider, redeem: Redeem) -> None:
    redeem(upstream.id_token())
    redeem(upstream.id_token())
    assert upstream.hits(upstream.path("/.well-known/openid-configuration")) == 1


def test_an_oauth_error_from_the_token_endpoint(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    upstream.token_answers.append(Reply.json({"error": "invalid_grant"}, 400))
    with pytest.raises(UpstreamError) as caught:
        redeem()
    assert (caught.value.reason, caught.value.detail) == ("upstream_error", "invalid_grant")


def test_a_non_json_answer_is_a_bad_response(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    upstream.token_answers.append(Reply(200, b"<html>oops</html>", {"Content-Type": "text/html"}))
    assert refused(redeem) == "bad_response"


def test_an_answer_without_id_token_is_a_bad_response(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    upstream.token_answers.append(Reply.json({"access_token": "at", "token_type": "Bearer"}))
    assert refused(redeem) == "bad_response"


def test_a_redirecting_token_endpoint_is_not_followed(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    upstream.token_answers.append(Reply.redirect("http://127.0.0.1:1/elsewhere"))
    assert refused(redeem) == "bad_response"


def test_an_unreachable_upstream() -> None:
    with HostileOpenIdProvider() as upstream:
        config = upstream.config()
    assert (
        refused(
            lambda: provider_for(config).authorization_url(
                redirect_uri=REDIRECT_URI, state="s", nonce="n", code_challenge="c"
            )
        )
        == "unreachable"
    )


def test_an_upstream_that_does_not_answer_in_time(upstream: HostileOpenIdProvider) -> None:
    adapter = provider_for(upstream.config(), UpstreamHttp(read_timeout=0.2))
    upstream.delay = 1.0
    upstream.answer_with(upstream.id_token())
    assert (
        refused(
            lambda: adapter.redeem_code(
                code="c", redirect_uri=REDIRECT_URI, code_verifier="v", nonce="the-nonce"
            )
        )
        == "unreachable"
    )


def test_email_verified_only_on_an_explicit_true(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    assert redeem(upstream.id_token(email_verified=None)).email_verified is False
    assert redeem(upstream.id_token(email_verified="yes")).email_verified is False
    assert redeem(upstream.id_token(email_verified=False)).email_verified is False


def test_userinfo_completes_a_token_without_email(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    upstream.userinfo = {
        "sub": "upstream-subject-1",
        "email": "ada@example.org",
        "email_verified": True,
        "picture": "https://example.org/ada.png",
    }
    identity = redeem(upstream.id_token(email=None, email_verified=None))
    assert (identity.email, identity.email_verified) == ("ada@example.org", True)
    assert identity.picture == "https://example.org/ada.png"
    (userinfo,) = [r for r in upstream.requests if r.path == upstream.path("/userinfo")]
    assert userinfo.header("Authorization") == "Bearer upstream-at"


def test_userinfo_about_someone_else_is_refused(
    upstream: HostileOpenIdProvider, redeem: Redeem
) -> None:
    upstream.userinfo = {"sub": "someone-else", "email": "eve@example.org", "email_verified": True}
    assert refused(lambda: redeem(upstream.id_token(email=None))) == "invalid_token"


def test_a_native_apps_id_token_needs_no_nonce_and_may_name_an_allowed_audience(
    upstream: HostileOpenIdProvider,
) -> None:
    adapter = provider_for(upstream.config(allowed_audiences=("android-app",)))
    token = upstream.id_token(nonce=None, aud=[CLIENT_ID, "android-app"], azp="android-app")
    assert adapter.identity_from_id_token(token).subject == "upstream-subject-1"
    only_app = upstream.id_token(nonce=None, aud="android-app")
    assert adapter.identity_from_id_token(only_app).subject == "upstream-subject-1"


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "foreign-app"}, id="foreign-aud"),
        pytest.param({"aud": [CLIENT_ID, "foreign-app"], "azp": "foreign-app"}, id="foreign-azp"),
        pytest.param({"aud": [CLIENT_ID, "android-app"]}, id="several-aud-no-azp"),
        pytest.param({"exp": int(time.time()) - 120}, id="expired"),
    ],
)
def test_a_native_apps_id_token_breaking_a_rule_is_refused(
    upstream: HostileOpenIdProvider, claims: dict[str, Any]
) -> None:
    adapter = provider_for(upstream.config(allowed_audiences=("android-app",)))
    token = upstream.id_token(nonce=None, **claims)
    assert refused(lambda: adapter.identity_from_id_token(token)) == "invalid_token"


def test_an_openid_access_token_alone_is_not_accepted(adapter: OpenIdProvider) -> None:
    assert refused(lambda: adapter.identity_from_access_token("at")) == "invalid_token"


def test_garbage_instead_of_a_token(adapter: OpenIdProvider) -> None:
    for garbage in ("", "a.b", "not a token", "e30.e30.", "...."):
        assert refused(lambda g=garbage: adapter.identity_from_id_token(g)) == "invalid_token"


def test_google_accepts_its_bare_issuer_only_when_it_is_the_real_google() -> None:
    with HostileOpenIdProvider() as upstream:
        adapter = provider_for(upstream.config(kind="google"))
        token = upstream.id_token(iss=upstream.issuer.removeprefix("http://"), nonce=None)
        assert refused(lambda: adapter.identity_from_id_token(token)) == "invalid_token"
    google = provider_for(upstream.config(kind="google", issuer=None))
    assert isinstance(google, OpenIdProvider)
    assert google.issuer == "https://accounts.google.com"
    assert google.accepted_issuers() == ("https://accounts.google.com", "accounts.google.com")
