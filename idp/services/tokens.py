"""Access tokens: JWTs per RFC 9068, their introspection, and revocation by `jti`.

JWTs are self-contained, so revocation is a set of revoked token ids in the short-lived store,
kept until the token would have expired anyway; every worker and instance sees it at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idp.crypto.jwt import InvalidToken, sign, verify
from idp.crypto.keys import KeyRing
from idp.crypto.secrets import new_identifier
from idp.services.clients import ClientView
from idp.services.tenants import TenantView
from idp.settings import TokenSettings
from idp.stores import ShortLivedStore

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
    ring: KeyRing, store: ShortLivedStore, issuer: str, tenant: TenantView, token: str
) -> dict[str, Any] | None:
    """The claims of a live access token of this tenant, or None (RFC 7662 `active: false`)."""
    claims = _verified_claims(ring, issuer, token)
    if claims is None:
        return None
    markers = store.get_many(_revocation_keys(tenant, claims))
    return None if _is_revoked(claims, markers) else claims


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


def _revocation_keys(tenant: TenantView, claims: dict[str, Any]) -> list[str]:
    """The store entries that would revoke a verified token: its `jti` and, for a person's
    token, the time everything of theirs was revoked. Read together, in one round trip."""
    keys = [_revoked_key(tenant, claims["jti"])]
    subject = claims.get("sub")
    if subject != claims.get("client_id") and isinstance(subject, str):
        keys.append(_revoked_before_key(tenant, subject))
    return keys


def _is_revoked(claims: dict[str, Any], markers: list[str | None]) -> bool:
    """Whether the values read at `_revocation_keys` revoke the token."""
    revoked_jti, *cutoff = markers
    if revoked_jti is not None:
        return True
    # A person's token is dead if everything of theirs was revoked after it was issued.
    return bool(cutoff and cutoff[0] is not None and claims.get("iat", 0) <= float(cutoff[0]))


def revoke_access_token(store: ShortLivedStore, tenant: TenantView, claims: dict[str, Any]) -> None:
    """Remember the `jti` until the token expires; after that it is dead anyway."""
    ttl = max(1.0, float(claims["exp"]) - time.time() + CLOCK_SKEW)
    store.put(_revoked_key(tenant, claims["jti"]), "1", ttl)


def revoke_tokens_of_person(
    store: ShortLivedStore, tenant: TenantView, subject: str, longest_lifetime: int
) -> None:
    """Every access token issued to `subject` until now becomes inactive.

    One marker per person instead of one per token (we do not keep the tokens we issue): it
    lives as long as the longest token could, after which every token it covers has expired.
    Tokens issued in the same second as the revocation are revoked too, erring on the safe side.
    """
    store.put(_revoked_before_key(tenant, subject), str(time.time()), longest_lifetime + CLOCK_SKEW)


def _revoked_before_key(tenant: TenantView, subject: str) -> str:
    return f"revoked-before:{tenant.id}:{subject}"


def _revoked_key(tenant: TenantView, jti: str) -> str:
    return f"revoked-jti:{tenant.id}:{jti}"
