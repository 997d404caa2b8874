"""Any OpenID provider, found by its issuer (OpenID Connect Core 1.0, Discovery 1.0).

The browser flow is the code flow with `state`, `nonce` and PKCE S256; the code is redeemed
at the discovered token endpoint with the client authentication the upstream supports, and the
ID token is validated in full (id_tokens.py) before anything in it is believed.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from idp.federation.base import UpstreamConfig, UpstreamError, UpstreamIdentity
from idp.federation.discovery import ProviderMetadata, UpstreamDirectory
from idp.federation.http import UpstreamHttp, require_object
from idp.federation.id_tokens import Expectations, validate_id_token
from idp.federation.oauth import append_query, raise_for_oauth_error, text

PROFILE_CLAIMS = ("name", "given_name", "family_name", "picture")


class OpenIdProvider:
    """An `IdentityProvider` for an upstream that publishes discovery and an ID token."""

    def __init__(
        self, config: UpstreamConfig, http: UpstreamHttp, directory: UpstreamDirectory
    ) -> None:
        if not config.issuer:
            raise UpstreamError("bad_response", "an OpenID provider needs an issuer")
        self.config = config
        self.issuer: str = config.issuer
        self._http = http
        self._directory = directory

    def accepted_issuers(self) -> tuple[str, ...]:
        """The `iss` values an ID token of this upstream may carry (exactly the issuer)."""
        return (self.issuer,)

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_challenge: str,
        login_hint: str | None = None,
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if login_hint:
            params["login_hint"] = login_hint
        return append_query(self._metadata().authorization_endpoint, params)

    def redeem_code(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str | None
    ) -> UpstreamIdentity:
        metadata = self._metadata()
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            fields["code_verifier"] = code_verifier
        headers = self._authenticate(metadata, fields)
        reply = self._http.post_form(metadata.token_endpoint, fields, headers)
        raise_for_oauth_error(reply)
        answer = require_object(reply, "token endpoint")
        id_token, access_token = answer.get("id_token"), answer.get("access_token")
        if not isinstance(id_token, str):
            raise UpstreamError("bad_response", "the token endpoint sent no ID token")
        claims = self._validate(id_token, (self.config.client_id,), nonce)
        if "email" not in claims and metadata.userinfo_endpoint and isinstance(access_token, str):
            claims = self._with_userinfo(metadata.userinfo_endpoint, access_token, claims)
        return self.identity(claims)

    def identity_from_id_token(self, id_token: str) -> UpstreamIdentity:
        audiences = (self.config.client_id, *self.config.allowed_audiences)
        return self.identity(self._validate(id_token, audiences, nonce=None))

    def identity_from_access_token(self, access_token: str) -> UpstreamIdentity:
        """Refused: an OpenID access token does not say which client it was issued to, so a
        token issued to another app could be replayed here. Native apps post an ID token."""
        raise UpstreamError("invalid_token", "an OpenID provider takes an ID token")

    def identity(self, claims: dict[str, Any]) -> UpstreamIdentity:
        """The identity in validated claims; `email_verified` only on an explicit true."""
        email = text(claims.get("email"))
        verified = claims.get("email_verified")
        profile = {name: text(claims.get(name)) for name in PROFILE_CLAIMS}
        return UpstreamIdentity(
            issuer=self.issuer,
            subject=claims["sub"],
            email=email,
            # Some providers send the string "true" (Google did, for years).
            email_verified=email is not None and verified in (True, "true"),
            claims=claims,
            **profile,
        )

    def _metadata(self) -> ProviderMetadata:
        return self._directory.metadata(self.issuer)

    def _validate(
        self, id_token: str, audiences: tuple[str, ...], nonce: str | None
    ) -> dict[str, Any]:
        jwks_uri = self._metadata().jwks_uri
        return validate_id_token(
            id_token,
            lambda kid: self._directory.key(jwks_uri, kid),
            Expectations(self.accepted_issuers(), audiences, nonce),
        )

    def _authenticate(self, metadata: ProviderMetadata, fields: dict[str, str]) -> dict[str, str]:
        """Client authentication at the token endpoint (OIDC Core §9), as the upstream offers.

        Without a secret we are a public client and only name ourselves. With one, HTTP Basic
        unless the upstream lists only `client_secret_post`.
        """
        secret = self.config.client_secret
        methods = metadata.token_endpoint_auth_methods
        if not secret or ("client_secret_post" in methods and "client_secret_basic" not in methods):
            fields["client_id"] = self.config.client_id
            if secret:
                fields["client_secret"] = secret
            return {}
        # RFC 6749 §2.3.1: both parts form-encoded before the Basic encoding.
        pair = f"{quote(self.config.client_id, safe='')}:{quote(secret, safe='')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def _with_userinfo(
        self, endpoint: str, access_token: str, claims: dict[str, Any]
    ) -> dict[str, Any]:
        """The ID token's claims completed from UserInfo (OIDC Core §5.3): the address and
        its `email_verified` come together from there; its `sub` must be the ID token's."""
        reply = self._http.get_json(endpoint, {"Authorization": f"Bearer {access_token}"})
        info = require_object(reply, "userinfo")
        if info.get("sub") != claims["sub"]:
            raise UpstreamError("invalid_token", "userinfo is about someone else")
        profile = {name: info[name] for name in PROFILE_CLAIMS if name in info}
        mailbox = {"email": info.get("email"), "email_verified": info.get("email_verified")}
        return {**profile, **claims, **mailbox}
