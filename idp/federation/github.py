"""GitHub (github.com or an Enterprise Server): OAuth 2 plus its REST API for who the person is.

GitHub issues no ID token, so the identity comes from `GET /user` (the numeric, never reused
`id` is the subject; the `login` can be renamed and taken by someone else) and
`GET /user/emails` (only the primary address, verified only if GitHub says so). The issuer of
these identities is the API base URL, so two GitHub hosts never share a subject space.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

from idp.federation.base import UpstreamConfig, UpstreamError, UpstreamIdentity
from idp.federation.http import JsonReply, UpstreamHttp, require_object
from idp.federation.oauth import append_query, raise_for_oauth_error, text

GITHUB_AUTHORIZATION_ENDPOINT = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN_ENDPOINT = "https://github.com/login/oauth/access_token"
GITHUB_API = "https://api.github.com"
API_MEDIA_TYPE = "application/vnd.github+json"
# What a posted token may look like before it goes into a header: printable ASCII, bounded.
TOKEN_SHAPE = re.compile(r"[\x21-\x7e]{1,1024}")


class GitHubProvider:
    """An `IdentityProvider` for GitHub's OAuth apps."""

    def __init__(self, config: UpstreamConfig, http: UpstreamHttp) -> None:
        self.config = config
        self.authorization_endpoint = config.authorization_endpoint or GITHUB_AUTHORIZATION_ENDPOINT
        self.token_endpoint = config.token_endpoint or GITHUB_TOKEN_ENDPOINT
        self.api_base_url = (config.api_base_url or GITHUB_API).rstrip("/")
        self._http = http

    @property
    def issuer(self) -> str:
        return self.api_base_url

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_challenge: str,
        login_hint: str | None = None,
    ) -> str:
        """GitHub's authorize URL; `nonce` has no place in plain OAuth and is not sent."""
        params = {
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if login_hint:
            params["login"] = login_hint
        return append_query(self.authorization_endpoint, params)

    def redeem_code(
        self,
        *,
        code: str,
        redirect_uri: str | None = None,
        code_verifier: str | None = None,
        nonce: str | None = None,
    ) -> UpstreamIdentity:
        """The identity behind a code. `redirect_uri` and `code_verifier` may be left out for
        a code a native app got through its own redirect without PKCE; our client secret,
        which the app never holds, is what binds the code to us then."""
        fields = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret or "",
            "code": code,
        }
        if redirect_uri:
            fields["redirect_uri"] = redirect_uri
        if code_verifier:
            fields["code_verifier"] = code_verifier
        reply = self._http.post_form(self.token_endpoint, fields)
        raise_for_oauth_error(reply)
        access_token = require_object(reply, "token endpoint").get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise UpstreamError("bad_response", "the token endpoint sent no access token")
        return self._identity(access_token)

    def identity_from_id_token(self, id_token: str) -> UpstreamIdentity:
        raise UpstreamError("invalid_token", "GitHub issues no ID tokens")

    def identity_from_access_token(self, access_token: str) -> UpstreamIdentity:
        """The identity behind an access token a native app posts, once GitHub confirmed the
        token was issued to our OAuth app (`POST /applications/{client_id}/token`): a token
        another app obtained must not sign anyone in here."""
        if not TOKEN_SHAPE.fullmatch(access_token):
            raise UpstreamError("invalid_token", "not an access token")
        basic = f"{self.config.client_id}:{self.config.client_secret or ''}"
        reply = self._http.post_json(
            f"{self.api_base_url}/applications/{quote(self.config.client_id, safe='')}/token",
            {"access_token": access_token},
            {
                "Accept": API_MEDIA_TYPE,
                "Authorization": "Basic " + base64.b64encode(basic.encode()).decode(),
            },
        )
        if reply.status in (404, 422):
            raise UpstreamError("invalid_token", "the token is not one of our OAuth app's")
        require_object(reply, "token check")
        return self._identity(access_token)

    def _identity(self, access_token: str) -> UpstreamIdentity:
        user = require_object(self._api("/user", access_token), "user")
        user_id = user.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise UpstreamError("bad_response", "the user has no numeric id")
        emails = self._api("/user/emails", access_token).data
        if not isinstance(emails, list):
            raise UpstreamError("bad_response", "the e-mail list is not a list")
        primary = next(
            (item for item in emails if isinstance(item, dict) and item.get("primary") is True),
            None,
        )
        email = text(primary.get("email")) if primary else None
        verified = email is not None and primary is not None and primary.get("verified") is True
        return UpstreamIdentity(
            issuer=self.issuer,
            subject=str(user_id),
            email=email,
            email_verified=verified,
            name=text(user.get("name")) or text(user.get("login")),
            picture=text(user.get("avatar_url")),
            claims={"login": user.get("login"), "id": user_id},
        )

    def _api(self, path: str, access_token: str) -> JsonReply:
        reply = self._http.get_json(
            self.api_base_url + path,
            {"Authorization": f"Bearer {access_token}", "Accept": API_MEDIA_TYPE},
        )
        if reply.status == 401:
            raise UpstreamError("invalid_token", "GitHub refused the access token")
        if reply.status != 200:
            raise UpstreamError("bad_response", f"GitHub {path}: HTTP {reply.status}")
        return reply
