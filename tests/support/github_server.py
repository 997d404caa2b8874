"""A GitHub-compatible OAuth server on 127.0.0.1, shaped like GitHub Enterprise Server.

Endpoints (as GitHub documents them):
- `GET /login/oauth/authorize`: shows nothing; redirects at once to `redirect_uri` with
  `code` and `state` for `signed_in` (the user the test chose), or with
  `error=access_denied` when `cancel` is set (the person clicked "Cancel").
- `POST /login/oauth/access_token`: checks client id and secret, that the code is unused and
  was issued to that client, the `redirect_uri` when one is sent, and PKCE S256 when the
  authorize request sent a challenge. Like GitHub, failures answer 200 with `{"error": ...}`
  (`incorrect_client_credentials`, `bad_verification_code`, `redirect_uri_mismatch`).
- `GET /api/v3/user`, `GET /api/v3/user/emails` with `Authorization: Bearer`.
- `POST /api/v3/applications/{client_id}/token` (Basic client id:secret, JSON
  `{"access_token"}`): 200 when the token was issued to that app, 404 otherwise.

Usage:

    with FakeGitHub() as github:
        github.add_user(GitHubUser(42, "ada", emails=[github_email("ada@example.org")]))
        github.signed_in = 42
        config = github.config()          # an UpstreamConfig for provider_for()
        github.api_base_url               # the identities' issuer
        code = github.issue_code(42)      # a code a native app got by itself (no PKCE)
        token = github.issue_token(42, client_id="another-app")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from idp.federation.base import UpstreamConfig
from tests.support.loopback_http import LoopbackServer, Reply, Request

GITHUB_CLIENT_ID = "Iv1.github-client"
GITHUB_CLIENT_SECRET = "github-client-secret-0123456789"


def github_email(address: str, *, primary: bool = True, verified: bool = True) -> dict[str, Any]:
    """One entry of `/user/emails`."""
    return {"email": address, "primary": primary, "verified": verified, "visibility": "private"}


@dataclass
class GitHubUser:
    id: int
    login: str
    name: str | None = None
    avatar_url: str | None = None
    emails: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "avatar_url": self.avatar_url,
            "email": None,
            "type": "User",
        }


@dataclass(frozen=True)
class _Grant:
    user_id: int
    client_id: str
    redirect_uri: str | None
    code_challenge: str | None


class FakeGitHub(LoopbackServer):
    def __init__(
        self, client_id: str = GITHUB_CLIENT_ID, client_secret: str = GITHUB_CLIENT_SECRET
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.users: dict[int, GitHubUser] = {}
        self.signed_in: int | None = None
        self.cancel = False
        self.api_base_url = f"{self.url}/api/v3"
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, tuple[int, str]] = {}

    def add_user(self, user: GitHubUser) -> GitHubUser:
        self.users[user.id] = user
        return user

    def config(self, **changes: Any) -> UpstreamConfig:
        """This server as a tenant's `github` provider; `changes` override any field."""
        fields: dict[str, Any] = {
            "kind": "github",
            "slug": "github",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "issuer": None,
            "scopes": ("read:user", "user:email"),
            "authorization_endpoint": f"{self.url}/login/oauth/authorize",
            "token_endpoint": f"{self.url}/login/oauth/access_token",
            "api_base_url": self.api_base_url,
            **changes,
        }
        return UpstreamConfig(**fields)

    def issue_code(self, user_id: int, redirect_uri: str | None = None) -> str:
        """A code as a native app gets it from its own redirect, without PKCE."""
        code = secrets.token_urlsafe(16)
        self._codes[code] = _Grant(user_id, self.client_id, redirect_uri, None)
        return code

    def issue_token(self, user_id: int, client_id: str | None = None) -> str:
        """An access token for `user_id`, issued to `client_id` (default: ours)."""
        token = "gho_" + secrets.token_urlsafe(24)
        self._tokens[token] = (user_id, client_id or self.client_id)
        return token

    def handle(self, request: Request) -> Reply:
        if request.path == "/login/oauth/authorize":
            return self._authorize(request.query)
        if request.path == "/login/oauth/access_token" and request.method == "POST":
            return self._access_token(request.form)
        if request.path == f"/api/v3/applications/{self.client_id}/token":
            return self._check_token(request)
        if request.path in ("/api/v3/user", "/api/v3/user/emails"):
            user = self._bearer(request)
            if user is None:
                return Reply.json({"message": "Bad credentials"}, 401)
            return Reply.json(user.as_json() if request.path.endswith("/user") else user.emails)
        return Reply.json({"message": "Not Found"}, 404)

    def _authorize(self, query: dict[str, str]) -> Reply:
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri:
            return Reply(400, b"unknown application")
        answer: dict[str, str] = {"state": query.get("state", "")}
        if self.cancel or self.signed_in is None:
            answer |= {"error": "access_denied", "error_description": "The user has denied."}
        else:
            code = secrets.token_urlsafe(16)
            challenge = query.get("code_challenge")
            if challenge and query.get("code_challenge_method") != "S256":
                return Reply(400, b"only S256")
            self._codes[code] = _Grant(self.signed_in, self.client_id, redirect_uri, challenge)
            answer["code"] = code
        separator = "&" if "?" in redirect_uri else "?"
        return Reply.redirect(redirect_uri + separator + urlencode(answer))

    def _access_token(self, form: dict[str, str]) -> Reply:
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return Reply.json({"error": "incorrect_client_credentials"})
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.client_id != self.client_id:
            return Reply.json({"error": "bad_verification_code"})
        if "redirect_uri" in form and form["redirect_uri"] != grant.redirect_uri:
            return Reply.json({"error": "redirect_uri_mismatch"})
        if grant.code_challenge and not _pkce_matches(
            form.get("code_verifier", ""), grant.code_challenge
        ):
            return Reply.json({"error": "bad_verification_code"})
        token = self.issue_token(grant.user_id)
        return Reply.json({"access_token": token, "token_type": "bearer", "scope": "user:email"})

    def _check_token(self, request: Request) -> Reply:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.header("Authorization") != f"Basic {basic}":
            return Reply.json({"message": "Requires authentication"}, 401)
        found = self._tokens.get(str(request.json.get("access_token", "")))
        if found is None or found[1] != self.client_id:
            return Reply.json({"message": "Not Found"}, 404)
        user = self.users[found[0]]
        return Reply.json({"app": {"client_id": self.client_id}, "user": user.as_json()})

    def _bearer(self, request: Request) -> GitHubUser | None:
        found = self._tokens.get(request.header("Authorization").removeprefix("Bearer "))
        return self.users.get(found[0]) if found else None


def _pkce_matches(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(expected, challenge)
