"""Client authentication at the token, introspection and revocation endpoints.

`client_secret_basic` is parsed here rather than by Authlib so that malformed headers (bad
base64, non-UTF-8, no colon) are a clean `invalid_client`, never an exception. `private_key_jwt`
(RFC 7523 §3, OIDC Core §9) extends Authlib's assertion checks with our audiences, a bounded
lifetime and a single-use `jti` in the shared store.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import g
from flask import request as flask_request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.context import current_tenant, issuer, services
from idp.oauth.clients import OAuthClient
from idp.services.outbound import OutboundError, call
from idp.settings import SIGNING_ALGS

QueryClient = Callable[[str], OAuthClient | None]
ASSERTION_ALGS = [*SIGNING_ALGS, "RS384", "RS512", "PS384", "PS512", "ES384", "ES512"]
MAX_JTI = 128
MAX_JWKS_BYTES = 65536
# A client that rotates its keys signs with a kid our cached copy lacks: fetch again (OIDC Core
# §10.1.1), but at most this often per URI, so made-up kids cannot make us hammer its server.
MIN_REFETCH_SECONDS = 2.0
# RFC 6749 Appendix A.1: client_id = *VSCHAR. We hold assertion ids to the same printable range:
# a NUL or control character has no business in a key of the shared store.
VSCHARS = re.compile(r"^[\x20-\x7e]+$")


def is_vschar_string(value: Any, max_length: int) -> bool:
    return isinstance(value, str) and len(value) <= max_length and bool(VSCHARS.match(value))


def presented_credentials(authorization: str | None, form: Mapping[str, str]) -> int:
    """How many client authentication mechanisms a request carries (RFC 6749 §2.3)."""
    return sum(
        (
            bool(authorization),
            "client_secret" in form,
            "client_assertion" in form or "client_assertion_type" in form,
        )
    )


def names_another_client(form: Mapping[str, str], client_id: str) -> bool:
    """A `client_id` parameter sent next to other credentials must name the same client.

    RFC 7521 §4.2 says so for assertions; for Basic it is the same rule, or a request could be
    logged and treated as one client while authenticated as another.
    """
    named = form.get("client_id")
    return named is not None and named != client_id


def check_client_id_parameter(request: Any, client: OAuthClient) -> None:
    if names_another_client(request.form, client.client_id):
        raise InvalidClientError(
            status_code=401, description="The client_id parameter names another client."
        )


def basic_credentials(header: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: (client id, secret) from a Basic header, each part form-urlencoded
    before encoding; None if the header is not Basic. ValueError if it is Basic but malformed
    (bad base64, non-ASCII header characters, bytes that are not UTF-8, a missing part)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise ValueError("a part is missing")
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def authenticate_client_secret_basic(query_client: QueryClient, request: Any) -> OAuthClient | None:
    try:
        credentials = basic_credentials(request.headers.get("Authorization", ""))
    except ValueError:
        raise InvalidClientError(
            status_code=401, description="Malformed Basic credentials."
        ) from None
    if credentials is None:
        return None
    client_id, secret = credentials
    client = query_client(client_id)
    if client and client.check_client_secret(secret):
        return client
    return None


class PrivateKeyJwt(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=30)

    def get_audiences(self) -> list[str]:
        # RFC 7523 §3: the token endpoint URL; OIDC Core §9 and RFC 7523bis also allow the issuer.
        # At introspection and revocation the URL being called identifies us just as well, and is
        # what a client library uses when it signs for "this request" (Authlib's PrivateKeyJWT).
        called = f"{services().settings.server.public_url}{flask_request.path}"
        return list(dict.fromkeys([f"{issuer()}/token", issuer(), called]))

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except (JoseError, ValueError) as error:
            fresher = self._fresher_remote_keys(assertion, resolve_key)
            if fresher is None:
                raise InvalidClientError(
                    status_code=401, description="Invalid client assertion."
                ) from error
            return self.process_assertion_claims(assertion, fresher)
        self.verify_claims(token.claims)
        return token.claims

    def _fresher_remote_keys(self, assertion: str, key_set: Any) -> KeySet | None:
        """The client's jwks_uri fetched again, if the assertion names a kid we lack."""
        remote = g.get("assertion_jwks_uri")
        if remote is None or not isinstance(key_set, KeySet):
            return None
        try:
            kid = jws.extract_compact(assertion.encode()).headers().get("kid")
        except (JoseError, ValueError):
            return None
        known = {key.kid for key in key_set.keys}
        if not isinstance(kid, str) or kid in known:
            return None
        g.assertion_jwks_uri = None  # one refetch per request
        return remote_key_sets.refetch(*remote)

    def verify_claims(self, claims: Any) -> None:
        # The lifetime is bounded before the jti is stored, since it is remembered until `exp`.
        # A NaN `exp` passes every comparison, so only finite numbers are accepted.
        max_age = services().settings.tokens.client_assertion_max_age_seconds
        exp = claims.get("exp")
        finite = isinstance(exp, int | float) and not isinstance(exp, bool) and math.isfinite(exp)
        if not finite or exp - time.time() > max_age:
            raise InvalidClientError(
                status_code=401, description=f"Assertion must expire within {max_age} seconds."
            )
        super().verify_claims(claims)

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not is_vschar_string(jti, MAX_JTI):
            return False
        # Remembered in the database until the assertion expires: a store that lost its
        # contents must not accept the assertion again (DESIGN §3).
        expires_at = float(claims["exp"]) + self.leeway
        return services().revocations.first_use_of_assertion(
            current_tenant().id, claims["sub"], jti, expires_at
        )

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        view = client.view
        if view.jwks:
            return KeySet.import_key_set(view.jwks)
        if view.jwks_uri:
            g.assertion_jwks_uri = (view.jwks_uri, view.self_registered)
            return remote_key_sets.get(view.jwks_uri, view.self_registered)
        raise InvalidClientError(status_code=401, description="The client has no registered keys.")


class RemoteKeySets:
    """Clients' `jwks_uri` documents, cached per process for `cache.client_jwks_seconds`.

    A self-registered client's document is fetched only from a public address; the cache is
    keyed on that too, so an admin's client naming the same internal URI cannot lend it one.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bool], tuple[float, KeySet]] = {}
        self._lock = threading.Lock()

    def get(self, uri: str, public_only: bool) -> KeySet:
        ttl = services().settings.cache.client_jwks_seconds
        entry = self._entries.get((uri, public_only))
        if entry and time.monotonic() - entry[0] < ttl:
            return entry[1]
        return self._fetch(uri, public_only)

    def refetch(self, uri: str, public_only: bool) -> KeySet | None:
        """A fresh copy, unless the cached one is younger than MIN_REFETCH_SECONDS."""
        entry = self._entries.get((uri, public_only))
        if entry and time.monotonic() - entry[0] < MIN_REFETCH_SECONDS:
            return None
        return self._fetch(uri, public_only)

    def _fetch(self, uri: str, public_only: bool) -> KeySet:
        try:
            reply = call("GET", uri, public_only=public_only, max_bytes=MAX_JWKS_BYTES)
            if reply.status != 200:
                raise ValueError(f"jwks_uri answered {reply.status}")
            key_set = KeySet.import_key_set(json.loads(reply.body))
        except (OutboundError, JoseError, ValueError, TypeError, KeyError) as error:
            # UnsafeDestination is a ValueError: to the client it is an unreadable jwks_uri.
            raise InvalidClientError(
                status_code=401, description="The client's jwks_uri could not be read."
            ) from error
        with self._lock:
            self._entries[(uri, public_only)] = (time.monotonic(), key_set)
        return key_set


remote_key_sets = RemoteKeySets()
