"""The UserInfo endpoint (OIDC Core §5.3) with bearer token errors per RFC 6750 §3."""

from __future__ import annotations

import json

from flask import Response, request

from idp.context import current_tenant, issuer, services
from idp.services.accounts.users import read_user
from idp.services.errors import NotFound
from idp.services.tokens.access_tokens import USERINFO_CLAIMS, read_access_token
from idp.services.tokens.id_tokens import user_claims

MAX_TOKEN = 8192


def _challenge(status: int, error: str | None, description: str | None = None) -> Response:
    """RFC 6750 §3: a request without a token gets the challenge with no error code (§3.1)."""
    params = ['realm="userinfo"']
    body = {}
    if error:
        params.append(f'error="{error}"')
        body = {"error": error, "error_description": description or ""}
        if description:
            params.append(f'error_description="{description}"')
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["WWW-Authenticate"] = "Bearer " + ", ".join(params)
    response.headers["Cache-Control"] = "no-store"
    return response


def presented_token() -> str | None:
    """The bearer token from the Authorization header or, for POST, the form body (§2.1, §2.2).

    Raises ValueError when both carry one: RFC 6750 §2 allows exactly one method per request.
    """
    header = request.headers.get("Authorization")
    form = request.form.get("access_token") if request.method == "POST" else None
    if header is not None and form is not None:
        raise ValueError("more than one method")
    if form is not None:
        return form
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ValueError("not a bearer token")
    return token.strip()


def userinfo_response() -> Response:
    try:
        token = presented_token()
    except ValueError:
        return _challenge(400, "invalid_request", "Send one bearer token, one way.")
    if token is None:
        return _challenge(401, None)
    tenant = current_tenant()
    container = services()
    claims = None
    if len(token) <= MAX_TOKEN:
        ring = container.key_cache.ring(tenant.id)
        claims = read_access_token(ring, container.revocations, issuer(), tenant, token)
    audience = claims.get("aud") if claims else None
    audiences = audience if isinstance(audience, list) else [audience]
    if claims is not None and issuer() not in audiences:
        claims = None  # RFC 9068 §4: a token for another resource is not for us
    if claims is None:
        return _challenge(401, "invalid_token", "The access token is invalid or has expired.")
    scopes = str(claims.get("scope", "")).split()
    if "openid" not in scopes:
        return _challenge(403, "insufficient_scope", "The access token lacks the openid scope.")
    try:
        user = read_user(container.person_lookup, tenant, str(claims.get("sub", "")))
    except NotFound:
        user = None
    if user is None or not user.active:
        return _challenge(401, "invalid_token", "The access token is invalid or has expired.")
    # The claims the client asked for by name (OIDC Core §5.5), remembered in the access token.
    asked = claims.get(USERINFO_CLAIMS)
    requested = tuple(str(name) for name in asked) if isinstance(asked, list) else ()
    body = json.dumps(user_claims(user, scopes, requested, tenant.profile_attributes))
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
