"""A person's browser, played by `requests`: it follows our pages by their forms, not by magic.

It reads the CSRF token and the transaction id out of the HTML forms and posts them back with
its cookies, exactly as a browser would; nothing is taken from the server's internals.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

REDIRECT = "https://rp.example.com/callback"
PASSWORD = "correct horse battery"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def code_request(client_id: str, challenge: str | None, **extra: str) -> dict[str, str]:
    """Authorization request parameters as a typical OIDC client sends them."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile email roles",
        "state": "st-123",
        "nonce": "n-456",
    }
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return params | extra


def redeem(
    http: requests.Session, issuer: str, client_id: str, secret: str, code: str, verifier: str
) -> dict[str, Any]:
    """The token response for a code, asserting it succeeded."""
    response = http.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def signed_in_tokens(
    browser: Browser, client_id: str, secret: str, email: str, **params: str
) -> dict[str, Any]:
    """A person signs in with PASSWORD through the code flow with PKCE (`params` added to the
    authorization request) and the client redeems the code: its token response."""
    verifier, challenge = pkce_pair()
    query = browser.run(email, PASSWORD, **code_request(client_id, challenge, **params))
    return redeem(browser.http, browser.issuer, client_id, secret, query["code"], verifier)


def verified_claims(http: requests.Session, issuer: str, id_token: str) -> dict[str, Any]:
    """The claims of an ID token whose signature joserfc verified against the tenant's JWKS."""
    keys = KeySet.import_key_set(http.get(f"{issuer}/jwks.json").json())
    return dict(jwt.decode(id_token, keys, algorithms=["RS256"]).claims)


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Browser:
    http: requests.Session
    issuer: str

    def get(self, url: str, **params: str) -> requests.Response:
        return self.http.get(url, params=params, allow_redirects=False)

    def authorize(self, **params: str) -> requests.Response:
        return self.get(f"{self.issuer}/authorize", **params)

    def sign_in(self, login_url: str, email: str, password: str) -> requests.Response:
        page = self.get(login_url)
        assert page.status_code == 200, page.text
        assert '<label for="email">' in page.text and '<label for="password">' in page.text
        form = hidden_fields(page.text) | {"email": email, "password": password}
        return self.http.post(f"{self.issuer}/login", data=form, allow_redirects=False)

    def consent(
        self, consent_url: str, decision: str = "allow", remember: bool = True
    ) -> requests.Response:
        page = self.get(consent_url)
        assert page.status_code == 200, page.text
        form = hidden_fields(page.text) | {"decision": decision}
        if remember:
            form["remember"] = "on"
        return self.http.post(f"{self.issuer}/consent", data=form, allow_redirects=False)

    def choose_account(self, chooser_url: str, account: str) -> requests.Response:
        """Answer the account chooser: "current" (continue as) or "another"."""
        page = self.get(chooser_url)
        assert page.status_code == 200, page.text
        form = hidden_fields(page.text) | {"account": account}
        return self.http.post(f"{self.issuer}/select_account", data=form, allow_redirects=False)

    def follow(self, response: requests.Response) -> requests.Response:
        assert response.status_code in (302, 303), (response.status_code, response.text)
        return self.get(response.headers["Location"])

    def run(self, email: str, password: str, consent: bool = True, **params: str) -> dict[str, str]:
        """Authorize, sign in and consent as needed; the parameters sent to the redirect URI."""
        response = self.authorize(**params)
        for _ in range(6):
            location = response.headers.get("Location", "")
            if location.startswith(f"{self.issuer}/login"):
                response = self.sign_in(location, email, password)
            elif location.startswith(f"{self.issuer}/consent") and consent:
                response = self.consent(location)
            elif location.startswith(self.issuer):
                response = self.follow(response)
            else:
                assert response.status_code in (302, 303), (response.status_code, response.text)
                return query_of(location)
        raise AssertionError("the flow did not reach the client")
