"""High-entropy secrets (DESIGN §6): generated here, shown once, stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

CLIENT_SECRET_PREFIX = "idp_cs_"
API_KEY_PREFIX = "idp_ak_"
# RFC 7591 §3 initial access tokens and RFC 7592 registration access tokens.
INITIAL_ACCESS_TOKEN_PREFIX = "idp_iat_"
REGISTRATION_TOKEN_PREFIX = "idp_rat_"


def new_secret(prefix: str) -> str:
    """256 random bits behind a recognisable prefix, so secret scanners can find leaks."""
    return prefix + secrets.token_urlsafe(32)


def new_identifier(nbytes: int = 16) -> str:
    """A random public identifier (client ids, subjects, key ids, token ids).

    Never starting with "-" or "_": people pass these ids as command-line arguments, where a
    leading "-" reads as an option (`idp clients show -k3...` fails).
    """
    while True:
        identifier = secrets.token_urlsafe(nbytes)
        if identifier[0].isalnum():
            return identifier


def digest(secret: str) -> str:
    # A fast digest is right for 256-bit secrets: nobody can guess them, and the token endpoint
    # stays fast. Passwords, which are guessable, use argon2id instead (crypto.passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str | None) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    if not stored_digest:
        return False
    return hmac.compare_digest(digest(secret), stored_digest)
