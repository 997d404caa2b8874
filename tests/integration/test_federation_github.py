"""The GitHub adapter against a GitHub-compatible server on loopback
(tests/support/github_server.py): authorize, code redemption with PKCE, who the person is, and
each way GitHub says no."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.federation import UpstreamError, callback_error, provider_for
from idp.federation.base import UpstreamConfig
from idp.federation.github import GitHubProvider
from tests.support.github_server import FakeGitHub, GitHubUser, github_email
from tests.support.upstream_errors import refused

REDIRECT_URI = "http://127.0.0.1:1/t/acme/federation/github/callback"
VERIFIER = "a-verifier-of-enough-length-0123456789-abcdefghij"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_user(
            GitHubUser(
                4242,
                "ada",
                name="Ada Lovelace",
                avatar_url="https://avatars.example/ada.png",
                emails=[
                    github_email("old@example.org", primary=False),
                    github_email("ada@example.org"),
                ],
            )
        )
        server.signed_in = 4242
        yield server


@pytest.fixture
def adapter(github: FakeGitHub) -> GitHubProvider:
    adapter = provider_for(github.config())
    assert isinstance(adapter, GitHubProvider)
    return adapter


def sign_in_upstream(adapter: GitHubProvider, login_hint: str | None = None) -> dict[str, str]:
    """Follow the authorize URL as a browser would; the callback's query parameters."""
    url = adapter.authorization_url(
        redirect_uri=REDIRECT_URI,
        state="state-1",
        nonce="ignored",
        code_challenge=CHALLENGE.decode(),
        login_hint=login_hint,
    )
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def test_the_browser_flow_gives_the_primary_verified_address(
    github: FakeGitHub, adapter: GitHubProvider
) -> None:
    callback = sign_in_upstream(adapter, login_hint="ada")
    assert callback["state"] == "state-1"
    identity = adapter.redeem_code(
        code=callback["code"], redirect_uri=REDIRECT_URI, code_verifier=VERIFIER, nonce=None
    )
    assert (identity.issuer, identity.subject) == (github.api_base_url, "4242")
    assert (identity.email, identity.email_verified) == ("ada@example.org", True)
    assert (identity.name, identity.picture) == ("Ada Lovelace", "https://avatars.example/ada.png")
    (authorize,) = [r for r in github.requests if r.path == "/login/oauth/authorize"]
    assert authorize.query["login"] == "ada"
    assert authorize.query["code_challenge_method"] == "S256"
    assert "nonce" not in authorize.query
    (emails,) = [r for r in github.requests if r.path == "/api/v3/user/emails"]
    assert emails.header("Accept") == "application/vnd.github+json"
    assert emails.header("Authorization").startswith("Bearer gho_")


def test_the_subject_is_the_numeric_id_not_the_login(
    github: FakeGitHub, adapter: GitHubProvider
) -> None:
    github.users[4242].login = "renamed"
    identity = adapter.redeem_code(
        code=github.issue_code(4242), redirect_uri="", code_verifier="", nonce=None
    )
    assert identity.subject == "4242"


def test_a_wrong_pkce_verifier_is_bad_verification_code(adapter: GitHubProvider) -> None:
    code = sign_in_upstream(adapter)["code"]
    with pytest.raises(UpstreamError) as caught:
        adapter.redeem_code(
            code=code, redirect_uri=REDIRECT_URI, code_verifier="another-verifier", nonce=None
        )
    assert (caught.value.reason, caught.value.detail) == ("upstream_error", "bad_verification_code")


def test_a_code_is_single_use(adapter: GitHubProvider) -> None:
    code = sign_in_upstream(adapter)["code"]
    adapter.redeem_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=VERIFIER, nonce=None)
    with pytest.raises(UpstreamError) as caught:
        adapter.redeem_code(
            code=code, redirect_uri=REDIRECT_URI, code_verifier=VERIFIER, nonce=None
        )
    assert caught.value.detail == "bad_verification_code"


def test_a_wrong_client_secret(github: FakeGitHub) -> None:
    adapter = provider_for(github.config(client_secret="not-it"))
    code = github.issue_code(4242)
    with pytest.raises(UpstreamError) as caught:
        adapter.redeem_code(code=code, redirect_uri="", code_verifier="", nonce=None)
    assert (caught.value.reason, caught.value.detail) == (
        "upstream_error",
        "incorrect_client_credentials",
    )


def test_a_native_apps_code_without_pkce_or_redirect_uri(
    github: FakeGitHub, adapter: GitHubProvider
) -> None:
    identity = adapter.redeem_code(code=github.issue_code(4242))
    assert (identity.subject, identity.email_verified) == ("4242", True)


@pytest.mark.parametrize(
    ("emails", "expected"),
    [
        pytest.param(
            [github_email("ada@example.org", verified=False)],
            ("ada@example.org", False),
            id="primary-unverified",
        ),
        pytest.param(
            [github_email("ada@example.org", primary=False)], (None, False), id="no-primary"
        ),
        pytest.param([], (None, False), id="no-address"),
    ],
)
def test_without_a_verified_primary_address_nothing_is_vouched_for(
    github: FakeGitHub,
    adapter: GitHubProvider,
    emails: list[dict[str, object]],
    expected: tuple[str | None, bool],
) -> None:
    github.users[4242].emails = emails
    identity = adapter.redeem_code(code=github.issue_code(4242))
    assert (identity.email, identity.email_verified) == expected


def test_a_native_apps_access_token_issued_to_us(
    github: FakeGitHub, adapter: GitHubProvider
) -> None:
    identity = adapter.identity_from_access_token(github.issue_token(4242))
    assert (identity.subject, identity.email) == ("4242", "ada@example.org")


def test_an_access_token_issued_to_another_app_is_refused(
    github: FakeGitHub, adapter: GitHubProvider
) -> None:
    token = github.issue_token(4242, client_id="another-app")
    assert refused(lambda: adapter.identity_from_access_token(token)) == "invalid_token"


def test_an_unknown_access_token_is_refused(adapter: GitHubProvider) -> None:
    assert refused(lambda: adapter.identity_from_access_token("gho_nope")) == "invalid_token"


def test_github_has_no_id_tokens(adapter: GitHubProvider) -> None:
    assert refused(lambda: adapter.identity_from_id_token("x.y.z")) == "invalid_token"


def test_an_unreachable_github() -> None:
    with FakeGitHub() as github:
        config = github.config()
    adapter = provider_for(config)
    assert refused(lambda: adapter.redeem_code(code="c")) == "unreachable"


def test_an_api_that_is_not_githubs_is_a_bad_response(github: FakeGitHub) -> None:
    adapter = provider_for(github.config(api_base_url=github.url + "/nowhere"))
    assert refused(lambda: adapter.redeem_code(code=github.issue_code(4242))) == ("bad_response")


def test_defaults_are_github_com() -> None:
    config = UpstreamConfig("github", "github", "abc", "secret", None, ("user:email",))
    adapter = provider_for(config)
    assert isinstance(adapter, GitHubProvider)
    assert adapter.issuer == "https://api.github.com"
    assert adapter.token_endpoint == "https://github.com/login/oauth/access_token"
    url = adapter.authorization_url(
        redirect_uri=REDIRECT_URI, state="s", nonce="n", code_challenge="c"
    )
    assert url.startswith("https://github.com/login/oauth/authorize?client_id=abc&")


def test_an_enterprise_server_is_its_own_issuer(github: FakeGitHub) -> None:
    adapter = provider_for(github.config(api_base_url="https://ghe.example/api/v3/"))
    assert adapter.issuer == "https://ghe.example/api/v3"


@pytest.mark.parametrize("token", ["", "gho_a\r\nX-Injected: 1", "gho_é", "x" * 2000])
def test_a_token_that_cannot_be_one_is_refused_before_calling_github(
    github: FakeGitHub, adapter: GitHubProvider, token: str
) -> None:
    assert refused(lambda: adapter.identity_from_access_token(token)) == "invalid_token"
    assert github.requests == []


def test_a_cancellation_on_the_callback_is_access_denied(
    github: FakeGitHub, adapter: GitHubProvider
) -> None:
    github.cancel = True
    callback = sign_in_upstream(adapter)
    assert callback["state"] == "state-1"
    assert callback_error(callback.get("error")).reason == "access_denied"
    assert callback_error("server_error").reason == "upstream_error"
