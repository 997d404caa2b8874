"""ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.6) and the claims each scope releases (§5.4)."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from idp.crypto.jwt import sign
from idp.crypto.keys import KeyRing
from idp.services.clients import ClientView
from idp.services.tenants import TenantView
from idp.services.users import UserView
from idp.settings import TokenSettings

ID_TOKEN_TYPE = "JWT"
# Password sign-in only: assurance level 1 in the sense of ISO/IEC 29115, as OIDC Core §2 uses.
PASSWORD_ACR = "1"
# Scopes this server understands, and the claims each releases (OIDC Core §5.4; `roles` ours).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name"),
    "email": ("email", "email_verified"),
    "roles": ("roles",),
}


def user_claims(user: UserView, scopes: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`sub` plus the claims the granted scopes release; absent values are left out (§5.3.2)."""
    values: dict[str, Any] = {
        "sub": user.subject,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        "email_verified": user.email_verified,
        "roles": list(user.roles),
    }
    claims: dict[str, Any] = {"sub": user.subject}
    for scope in scopes:
        for name in SCOPE_CLAIMS.get(scope, ()):
            if values[name] is not None:
                claims[name] = values[name]
    return claims


def token_hash(token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6 `at_hash`: left half of the hash the JWS alg uses, base64url.

    EdDSA with Ed25519 hashes with SHA-512 (OpenID Connect's errata for EdDSA); every other alg
    we sign with names its hash in its last three digits.
    """
    algorithm = hashlib.sha512 if alg == "EdDSA" else getattr(hashlib, f"sha{alg[-3:]}")
    half = algorithm(token.encode("ascii")).digest()
    half = half[: len(half) // 2]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode("ascii")


def id_token_alg(tenant: TenantView, client: ClientView, defaults: TokenSettings) -> str:
    """The client's registered `id_token_signed_response_alg`, else RS256 (OIDC Registration §2)."""
    return client.id_token_signed_response_alg or tenant.signing_alg or defaults.signing_alg


def issue_id_token(
    ring: KeyRing,
    issuer: str,
    tenant: TenantView,
    client: ClientView,
    user: UserView,
    *,
    scopes: tuple[str, ...],
    access_token: str,
    auth_time: int,
    sid: str,
    amr: tuple[str, ...],
    nonce: str | None,
    lifetime: int,
    defaults: TokenSettings,
) -> str:
    moment = time.time()
    alg = id_token_alg(tenant, client, defaults)
    key = ring.signer(alg, datetime.fromtimestamp(moment, UTC))
    if key is None:
        raise RuntimeError(f"tenant {tenant.slug} has no active {alg} key")
    now = int(moment)
    claims: dict[str, Any] = {
        **user_claims(user, scopes),
        "iss": issuer,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + lifetime,
        "auth_time": auth_time,
        "at_hash": token_hash(access_token, alg),
        "sid": sid,
        "acr": PASSWORD_ACR,
        "amr": list(amr),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return sign(claims, key, ID_TOKEN_TYPE)
