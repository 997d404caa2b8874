"""Validation of an upstream's ID token (OpenID Connect Core §3.1.3.7), every rule of it.

The signature is checked against the upstream's published keys with an asymmetric algorithm
only: `alg=none` and the HMAC algorithms are refused (an HS256 token keyed with our client
secret would be one anybody holding that secret could mint, RFC 8725 §3.1), and the algorithm
must be the key's own, so a token cannot pick how its key is used.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from idp.crypto.keys import PrivateKey
from idp.federation.base import UpstreamError
from idp.federation.discovery import UpstreamKey

# Clock skew we tolerate between the upstream and us, both ways.
LEEWAY = 60
# An ID token is used right after it is issued; one a day old is a replay, not a sign-in.
MAX_AGE = 24 * 3600
ASYMMETRIC_ALGS = {
    "RS256": (RSAKey, None),
    "RS384": (RSAKey, None),
    "RS512": (RSAKey, None),
    "PS256": (RSAKey, None),
    "PS384": (RSAKey, None),
    "PS512": (RSAKey, None),
    "ES256": (ECKey, "P-256"),
    "ES384": (ECKey, "P-384"),
    "ES512": (ECKey, "P-521"),
    "EdDSA": (OKPKey, "Ed25519"),
    "Ed25519": (OKPKey, "Ed25519"),
}


@dataclass(frozen=True)
class Expectations:
    """What a token must say to be accepted.

    `audiences`: values `aud` may hold for us; `client_id` first. `azp`, when present or when
    `aud` holds several values, must be one of them (OIDC Core §3.1.3.7 items 4-5; a native
    app's Google token names the Android or iOS client in `azp`). `nonce` None skips that
    check (a token a native app got itself carries the app's nonce, not ours).
    """

    issuers: Collection[str]
    audiences: tuple[str, ...]
    nonce: str | None


KeyFinder = Callable[[str | None], UpstreamKey | None]


def validate_id_token(token: str, find_key: KeyFinder, expect: Expectations) -> dict[str, Any]:
    """The claims of a valid ID token, or UpstreamError("invalid_token")."""
    claims = _verified_claims(token, find_key)
    if claims.get("iss") not in expect.issuers:
        raise _invalid("iss is not the configured issuer")
    _check_audience(claims, expect.audiences)
    _check_times(claims)
    if expect.nonce is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, expect.nonce):
            raise _invalid("nonce does not match the one we sent")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise _invalid("sub is missing")
    return claims


def _verified_claims(token: str, find_key: KeyFinder) -> dict[str, Any]:
    try:
        compact = jws.extract_compact(token.encode())
        header = compact.headers()
    except (JoseError, ValueError, UnicodeError, TypeError) as error:
        raise _invalid("malformed token") from error
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGS:
        raise _invalid(f"alg {alg!r} is not accepted")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _invalid("kid is not a string")
    found = find_key(kid)
    if found is None:
        raise _invalid("signed by a key the upstream does not publish")
    if (found.alg is not None and found.alg != alg) or not _fits(found.key, alg):
        raise _invalid("alg does not match the key")
    try:
        valid = jws.validate_compact(compact, found.key, algorithms=[alg])
        claims = json.loads(compact.payload) if valid else None
    except (JoseError, ValueError, TypeError) as error:
        raise _invalid("bad signature") from error
    if not valid:
        raise _invalid("bad signature")
    if not isinstance(claims, dict):
        raise _invalid("claims are not an object")
    return claims


def _fits(key: PrivateKey, alg: str) -> bool:
    key_type, curve = ASYMMETRIC_ALGS[alg]
    if not isinstance(key, key_type):
        return False
    return curve is None or key.as_dict(private=False).get("crv") == curve


def _check_audience(claims: dict[str, Any], accepted: tuple[str, ...]) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise _invalid("aud is missing")
    if not set(audiences) & set(accepted):
        raise _invalid("aud is not us")
    azp = claims.get("azp")
    if azp is None and len(audiences) > 1:
        raise _invalid("several audiences and no azp")
    if azp is not None and azp not in accepted:
        raise _invalid("azp is not us")


def _check_times(claims: dict[str, Any]) -> None:
    now = time.time()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_number(exp) or not _is_number(iat):
        raise _invalid("exp or iat is missing")
    if exp <= now - LEEWAY:
        raise _invalid("expired")
    if iat > now + LEEWAY:
        raise _invalid("issued in the future")
    if iat < now - MAX_AGE:
        raise _invalid("issued too long ago")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _invalid(detail: str) -> UpstreamError:
    return UpstreamError("invalid_token", detail)
