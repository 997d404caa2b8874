"""Principals from OAuth access tokens: automation may use a tenant's own token endpoint
(client credentials) instead of a static API key, with the same scopes (issue 4)."""

from __future__ import annotations

import base64
import json

from idp.services.container import Services
from idp.services.management.api_keys import SCOPES, Principal
from idp.services.oauth_clients.clients import find_client
from idp.services.tokens.access_tokens import read_access_token

ISSUER_PATH = "/t/"


def principal_from_access_token(container: Services, token: str) -> Principal | None:
    """The tenant principal of a live access token whose audience is its issuer, else None."""
    issuer = _unverified_issuer(token)
    prefix = container.settings.server.public_url + ISSUER_PATH
    if issuer is None or not issuer.startswith(prefix):
        return None
    tenant = container.tenant_cache.get(issuer[len(prefix) :])
    if tenant is None:
        return None
    claims = read_access_token(
        container.key_cache.ring(tenant.id), container.revocations, issuer, tenant, token
    )
    if claims is None:
        return None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if issuer not in audiences:  # RFC 9068 §4: a token for another resource is not for us
        return None
    client_id = str(claims.get("client_id", ""))
    if find_client(container.uow(), tenant.id, client_id) is None:
        return None  # a deleted client's tokens die with it
    scopes = frozenset(str(claims.get("scope", "")).split()) & frozenset(SCOPES)
    return Principal(f"client:{client_id}", tenant.id, scopes)


def _unverified_issuer(token: str) -> str | None:
    """Only to pick the tenant whose keys then verify the token; never trusted on its own."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None
