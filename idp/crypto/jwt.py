"""Compact JWS signing and verification of our own tokens."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from idp.crypto.keys import KeyRing, RingKey


class InvalidToken(ValueError):
    """Not a token we signed, or signed with a key we no longer publish."""


def sign(claims: dict[str, Any], key: RingKey, typ: str) -> str:
    header = {"alg": key.alg, "kid": key.kid, "typ": typ}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return jws.serialize_compact(header, payload, key.key, algorithms=[key.alg])


def verify(token: str, ring: KeyRing, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (header, claims) of a token signed by a published key of `ring`.

    Checks the signature with the key named by `kid` and its registered algorithm only, so a
    token cannot choose a weaker algorithm (RFC 8725 §3.1). Expiry is the caller's business.
    The token is parsed once: the header names the key, which then checks the same parse.
    """
    try:
        compact = jws.extract_compact(token.encode())
        header = compact.headers()
    except (JoseError, ValueError, UnicodeError) as error:
        raise InvalidToken("malformed token") from error
    key = ring.verifier(str(header.get("kid", "")), now)
    if key is None or header.get("alg") != key.alg:
        raise InvalidToken("unknown signing key")
    try:
        valid = jws.validate_compact(compact, key.key, algorithms=[key.alg])
        claims = json.loads(compact.payload) if valid else None
    except (JoseError, ValueError) as error:
        raise InvalidToken("bad signature") from error
    if not valid:
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    return header, claims
