"""Access tokens: JWTs per RFC 9068, their introspection, and revocation by `jti`.

JWTs are self-contained, so revocation is a record per revoked token id (and per person whose
earlier tokens are void), kept until the token would have expired anyway, in the database and
cached in the store (services/tokens/revocations.py); every worker and instance sees it at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idp.crypto.jwt import InvalidToken, sign, verify
from idp.crypto.keys import KeyRing
from idp.crypto.secrets import new_identifier
from idp.services.oauth_clients.clients import ClientView
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.revocations import Revocations
from idp.settings import TokenSettings

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1
# Private claim (RFC 7519 §4.3), read only by our userinfo endpoint: the claims the client asked
# for by name for userinfo (OIDC Core §5.5), which its scopes alone would not release.
USERINFO_CLAIMS = "userinfo_claims"
CLOCK_SKEW = 30


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_in: int
    scope: str
    jti: str = ""
    exp: int = 0


def access_token_alg(tenant: TenantView, client: ClientView, defaults: TokenSettings) -> str:
    return client.access_token_signed_alg or tenant.signing_alg or defaults.signing_alg


def access_token_lifetime(tenant: TenantView, client: ClientView, defaults: TokenSettings) -> int:
    return (
        client.access_token_lifetime
        or tenant.access_token_lifetime
        or defaults.access_token_lifetime_seconds
    )


def issue_access_token(
    ring: KeyRing,
    issuer: str,
    tenant: TenantView,
    client: ClientView,
    subject: str,
    scopes: list[str],
    audience: list[str],
    defaults: TokenSettings,
    userinfo_claims: tuple[str, ...] = (),
) -> IssuedAccessToken:
    moment = time.time()
    now = int(moment)
    lifetime = access_token_lifetime(tenant, client, defaults)
    alg = access_token_alg(tenant, client, defaults)
    key = ring.signer(alg, datetime.fromtimestamp(moment, UTC))
    if key is None:
        raise RuntimeError(f"tenant {tenant.slug} has no active {alg} key")
    scope = " ".join(scopes)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience[0] if len(audience) == 1 else audience,
        "client_id": client.client_id,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": new_identifier(16),
    }
    if scope:
        claims["scope"] = scope
    if userinfo_claims:
        claims[USERINFO_CLAIMS] = list(userinfo_claims)
    token = sign(claims, key, ACCESS_TOKEN_TYPE)
    return IssuedAccessToken(token, lifetime, scope, claims["jti"], claims["exp"])


def read_access_token(
    ring: KeyRing, revocations: Revocations, issuer: str, tenant: TenantView, token: str
) -> dict[str, Any] | None:
    """The claims of a live access token of this tenant, or None (RFC 7662 `active: false`)."""
    claims = _verified_claims(ring, issuer, token)
    if claims is None:
        return None
    subject = claims.get("sub")
    # A client's own token (client credentials) has no person whose tokens could be revoked.
    person = subject if isinstance(subject, str) and subject != claims.get("client_id") else None
    iat = claims.get("iat")
    issued_at = iat if isinstance(iat, int) else 0
    if revocations.is_revoked(tenant.id, claims["jti"], person, issued_at):
        return None
    return claims


def _verified_claims(ring: KeyRing, issuer: str, token: str) -> dict[str, Any] | None:
    """The claims of an unexpired access token this issuer signed, revoked or not."""
    now = time.time()
    try:
        header, claims = verify(token, ring, datetime.fromtimestamp(now, UTC))
    except InvalidToken:
        return None
    if header.get("typ") != ACCESS_TOKEN_TYPE or claims.get("iss") != issuer:
        return None
    exp, jti = claims.get("exp"), claims.get("jti")
    if not isinstance(exp, int) or exp <= now or not isinstance(jti, str):
        return None
    nbf = claims.get("nbf")
    if isinstance(nbf, int) and nbf > now + CLOCK_SKEW:
        return None
    return claims


def revoke_access_token(
    revocations: Revocations, tenant: TenantView, claims: dict[str, Any]
) -> None:
    """Void the token until its `exp`; after that it is dead anyway."""
    revocations.revoke_token(tenant.id, claims["jti"], float(claims["exp"]))


def revoke_tokens_of_person(
    revocations: Revocations, tenant: TenantView, subject: str, longest_lifetime: int
) -> None:
    """Every access token issued to `subject` until now becomes inactive.

    One record per person instead of one per token (we do not keep the tokens we issue): it
    lives as long as the longest token could, after which every token it covers has expired.
    """
    revocations.revoke_before(tenant.id, subject, longest_lifetime)
