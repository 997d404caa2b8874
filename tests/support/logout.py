"""What the logout tests share: a person signed in at a client, and a check that they still are."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from idp.services.oauth_clients.clients import IssuedClient
from tests.support.browser import (
    REDIRECT,
    Browser,
    code_request,
    pkce_pair,
    query_of,
    signed_in_tokens,
)

SIGNED_OUT = "https://rp.example.com/signed-out"


@dataclass(frozen=True)
class SignedIn:
    id_token: str
    access_token: str
    claims: dict[str, Any]  # the ID token's, read without verification (the tests verify apart)
    cookie: str  # the session cookie's value, to replay after the browser dropped it

    @property
    def sid(self) -> str:
        return str(self.claims["sid"])


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def sign_in(browser: Browser, client: IssuedClient, email: str) -> SignedIn:
    """The code flow in `browser` up to the tokens: the person has a session and `client` a code
    from it (so the session knows the client)."""
    body = signed_in_tokens(browser, client.client.client_id, client.secret or "", email)
    cookie = next(c.value for c in browser.http.cookies if c.name.startswith("idp_session_"))
    return SignedIn(
        body["id_token"], body["access_token"], unverified_claims(body["id_token"]), str(cookie)
    )


def silent_authorization(browser: Browser, client: IssuedClient) -> dict[str, str]:
    """What prompt=none answers at the redirect URI: a code while the session lives, else
    error=login_required (OIDC Core §3.1.2.6)."""
    _, challenge = pkce_pair()
    response = browser.authorize(**code_request(client.client.client_id, challenge, prompt="none"))
    assert response.status_code == 303, response.text
    assert response.headers["Location"].startswith(REDIRECT + "?")
    return query_of(response.headers["Location"])
