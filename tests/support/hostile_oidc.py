"""A scripted OpenID provider on 127.0.0.1 whose ID tokens the test crafts, good or bad.

It serves discovery, a JWKS, a token endpoint and a userinfo endpoint under an issuer with a
random path (so no two instances share a cache entry in the adapters), and answers the token
endpoint with whatever the test queued: an ID token signed by a published key, by a key it does
not publish, with `alg=none` or HS256, with any claims; an OAuth error; a non-JSON body; or
after a delay. Every rule of ID token validation is thereby proven through the real adapter
over real HTTP.

    with HostileOpenIdProvider() as upstream:
        adapter = provider_for(upstream.config())
        upstream.answer_with(upstream.id_token(nonce="n", aud="someone-else"))
        adapter.redeem_code(code="any", redirect_uri=..., code_verifier="v", nonce="n")
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from joserfc import jws
from joserfc.jwk import OctKey

from idp.crypto.keys import generate_private_jwk, import_jwk, public_part
from idp.federation.base import UpstreamConfig
from tests.support.loopback_http import LoopbackServer, Reply, Request

CLIENT_ID = "our-client"
CLIENT_SECRET = "our-client-secret-0123456789"
ACCESS_TOKEN = "upstream-at"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class HostileOpenIdProvider(LoopbackServer):
    def __init__(self, alg: str = "RS256") -> None:
        super().__init__()
        self.issuer = f"{self.url}/{secrets.token_hex(4)}"
        self.published = [generate_private_jwk(alg, "key-1")]
        self.discovery_overrides: dict[str, Any] = {}
        self.userinfo: dict[str, Any] = {}
        self.token_answers: list[Reply] = []
        self.delay = 0.0

    def config(self, kind: str = "oidc", **changes: Any) -> UpstreamConfig:
        """This upstream as a tenant's provider; `changes` override any field."""
        fields: dict[str, Any] = {
            "kind": kind,
            "slug": kind,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "issuer": self.issuer,
            "scopes": ("openid", "email"),
            **changes,
        }
        return UpstreamConfig(**fields)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A valid claim set for our client; `overrides` set claims, None removes one."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "upstream-subject-1",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": "the-nonce",
            "email": "ada@example.org",
            "email_verified": True,
            "name": "Ada Lovelace",
            **overrides,
        }
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(
        self,
        *,
        jwk: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A token signed by `jwk` (default: the first published key) with its own alg."""
        key = jwk or self.published[0]
        protected = {"alg": key["alg"], "kid": key["kid"], "typ": "JWT", **(header or {})}
        payload = json.dumps(self.claims(**overrides)).encode()
        return jws.serialize_compact(
            protected, payload, import_jwk(key), algorithms=[protected["alg"]]
        )

    def unsigned_token(self, **overrides: Any) -> str:
        """`alg=none` (RFC 7519 §6): header, claims and an empty signature."""
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(self.claims(**overrides))}."

    def hs256_token(self, secret: str = CLIENT_SECRET, **overrides: Any) -> str:
        """Signed with HMAC keyed by our client secret, as a confused verifier would accept."""
        payload = json.dumps(self.claims(**overrides)).encode()
        header = {"alg": "HS256", "kid": self.published[0]["kid"]}
        return jws.serialize_compact(header, payload, OctKey.import_key(secret), ["HS256"])

    def rotate(self, alg: str = "RS256") -> dict[str, Any]:
        """Publish a new key beside the old ones; returns its private JWK."""
        key = generate_private_jwk(alg, f"key-{len(self.published) + 1}")
        self.published.append(key)
        return key

    def answer_with(self, id_token: str, access_token: str = ACCESS_TOKEN) -> None:
        """Queue a successful token endpoint answer carrying `id_token`."""
        self.token_answers.append(
            Reply.json({"access_token": access_token, "token_type": "Bearer", "id_token": id_token})
        )

    def path(self, name: str) -> str:
        return self.issuer.removeprefix(self.url) + name

    def handle(self, request: Request) -> Reply:
        if request.path == self.path("/.well-known/openid-configuration"):
            return Reply.json(self._discovery())
        if request.path == self.path("/jwks"):
            return Reply.json({"keys": [public_part(key) for key in self.published]})
        if request.path == self.path("/token") and request.method == "POST":
            time.sleep(self.delay)
            return self.token_answers.pop(0) if self.token_answers else Reply.json({}, 500)
        if request.path == self.path("/userinfo"):
            return Reply.json(self.userinfo)
        return Reply(404, b"not found")

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            **self.discovery_overrides,
        }
