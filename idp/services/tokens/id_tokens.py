"""ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.6), the person's claims released in them and at
userinfo (§5.4, §5.5; which ones: services/tokens/claims.py), and the `id_token_hint` (§3.1.2.1)."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idp.crypto.jwt import InvalidToken, sign, verify
from idp.crypto.keys import KeyRing
from idp.services.accounts.users import UserView
from idp.services.oauth_clients.clients import ClientView
from idp.services.tenancy.profile_attributes import ProfileAttribute, released_claims
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.claims import SCOPE_CLAIMS, ClaimsRequest, acr_for
from idp.settings import TokenSettings

ID_TOKEN_TYPE = "JWT"
MAX_ID_TOKEN_HINT = 8192


def user_claims(
    user: UserView,
    scopes: tuple[str, ...] | list[str],
    requested: tuple[str, ...] = (),
    declared: tuple[ProfileAttribute, ...] = (),
) -> dict[str, Any]:
    """`sub` plus the claims the granted scopes release and the supported claims `requested`
    by name (§5.5); absent values are left out (§5.3.2). The tenant's own attributes
    (`declared`) go out under their scope only (§5.4), never by name alone: a client must have
    been allowed the scope that releases them."""
    values: dict[str, Any] = {
        "sub": user.subject,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "picture": user.picture,
        "updated_at": int(user.updated_at.timestamp()),  # §5.1: seconds since the epoch
        "email": user.email,
        "email_verified": user.email_verified,
        "roles": list(user.roles),
    }
    names = [name for scope in scopes for name in SCOPE_CLAIMS.get(scope, ())]
    names += [name for name in requested if name in values]
    claims: dict[str, Any] = {**released_claims(declared, user.attributes, scopes)}
    claims["sub"] = user.subject
    for name in names:
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
    claims_request: ClaimsRequest | None = None,
) -> str:
    """`claims_request`: the claims the client asked for by name for the ID token (§5.5)."""
    moment = time.time()
    alg = id_token_alg(tenant, client, defaults)
    key = ring.signer(alg, datetime.fromtimestamp(moment, UTC))
    if key is None:
        raise RuntimeError(f"tenant {tenant.slug} has no active {alg} key")
    now = int(moment)
    requested = claims_request.id_token if claims_request else ()
    claims: dict[str, Any] = {
        **user_claims(user, scopes, requested, tenant.profile_attributes),
        "iss": issuer,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + lifetime,
        "auth_time": auth_time,
        "at_hash": token_hash(access_token, alg),
        "sid": sid,
        "acr": acr_for(amr, claims_request),
        "amr": list(amr),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return sign(claims, key, ID_TOKEN_TYPE)


@dataclass(frozen=True)
class IdTokenHint:
    """What a verified `id_token_hint` tells: whose session, and for which clients."""

    subject: str
    sid: str | None
    audiences: tuple[str, ...]
    authorized_party: str | None

    @property
    def client_id(self) -> str | None:
        """The client it was issued to: `azp` when present (§2), else its only audience."""
        if self.authorized_party is not None:
            return self.authorized_party
        return self.audiences[0] if len(self.audiences) == 1 else None


def read_id_token_hint(ring: KeyRing, issuer: str, token: str) -> IdTokenHint | None:
    """The hint's content if it is an ID token this tenant signed, else None.

    An expired ID token is still a good hint (OIDC Core §3.1.2.1, RP-Initiated Logout §2): it
    names a person and a session, it grants nothing. Only the signature (by a key we still
    publish), our issuer and the `typ` are checked; our access and logout tokens are signed by
    the same keys, and the `typ` header tells them apart.
    """
    if len(token) > MAX_ID_TOKEN_HINT:
        return None
    try:
        header, claims = verify(token, ring, datetime.now(UTC))
    except InvalidToken:
        return None
    subject, audience = claims.get("sub"), claims.get("aud")
    if header.get("typ") != ID_TOKEN_TYPE or claims.get("iss") != issuer:
        return None
    if not isinstance(subject, str):
        return None
    audiences = audience if isinstance(audience, list) else [audience]
    sid, azp = claims.get("sid"), claims.get("azp")
    return IdTokenHint(
        subject=subject,
        sid=sid if isinstance(sid, str) else None,
        audiences=tuple(value for value in audiences if isinstance(value, str)),
        authorized_party=azp if isinstance(azp, str) else None,
    )
