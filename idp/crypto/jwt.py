"""Compact JWS signing and verification of our own tokens."""

from __future__ import annotations

import json
from base64 import urlsafe_b64encode
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from idp.crypto.keys import KeyRing, RingKey

# Tokens whose signature this process has already checked, with the key that checked it, the
# header and the payload. A resource server introspects the same access token on every call it
# receives, and the signature check with its parsing was most of an introspection's CPU. A hit
# counts only while the tenant's ring still publishes that very key (the same object: a ring
# rebuilt after a rotation misses and checks again), so the answer is the one a fresh check
# would give. Only valid signatures enter; bounded, and emptied when full.
_CHECKED: dict[str, tuple[RingKey, dict[str, Any], bytes]] = {}
CHECKED_MAX = 1024


class InvalidToken(ValueError):
    """Not a token we signed, or signed with a key we no longer publish."""


def sign(claims: dict[str, Any], key: RingKey, typ: str) -> str:
    """RFC 7515 §7.1 compact serialisation of `claims`, signed by `key` with its algorithm.

    Built here rather than through joserfc's serialize_compact: the protected header of a key
    and token type never changes, so it is encoded once per key (RingKey.encoded_header), and
    the signature is the key's own (RingKey.signature). A token request then spends its time in
    the signature, which is the physical limit of RS256 tokens (bench/RESULTS.md). joserfc
    still verifies every token, ours included (`verify` below).
    """
    payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = key.encoded_header(typ) + b"." + _b64(payload)
    return (signing_input + b"." + _b64(key.signature(signing_input))).decode()


def _b64(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    return urlsafe_b64encode(data).rstrip(b"=")


def verify(token: str, ring: KeyRing, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (header, claims) of a token signed by a published key of `ring`.

    Checks the signature with the key named by `kid` and its registered algorithm only, so a
    token cannot choose a weaker algorithm (RFC 8725 §3.1). Expiry is the caller's business.
    The token is parsed once: the header names the key, which then checks the same parse.
    """
    checked = _CHECKED.get(token)
    if checked is not None:
        key, header, payload = checked
        if ring.verifier(key.kid, now) is key:
            return dict(header), json.loads(payload)
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
    if len(_CHECKED) >= CHECKED_MAX:
        _CHECKED.clear()
    _CHECKED[token] = (key, dict(header), compact.payload)
    return header, claims
