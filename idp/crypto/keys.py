"""Signing key material: generation, sealing with the KEK, and a parsed per-tenant key ring.

Parsing a private RSA JWK costs tens of milliseconds (DESIGN §4), so rings are built once per key
set and reused for every token until the set changes.
"""

from __future__ import annotations

import json
import warnings
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from joserfc.jwk import ECKey, OKPKey, RSAKey

from idp.crypto.kek import Kek

# "EdDSA" is what relying parties support today; RFC 9864's "Ed25519" name is not yet widespread.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")

PrivateKey = RSAKey | ECKey | OKPKey  # joserfc's
CryptographyPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def generate_private_jwk(alg: str, kid: str) -> dict[str, Any]:
    """A new private key for `alg` as a JWK dict carrying `kid`, `use` and `alg`."""
    key: PrivateKey
    if alg in ("RS256", "PS256"):
        key = RSAKey.generate_key(2048, private=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    elif alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519", private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg}")
    return {**key.as_dict(private=True), "kid": kid, "use": "sig", "alg": alg}


def public_part(private_jwk: dict[str, Any]) -> dict[str, Any]:
    key = import_jwk(private_jwk)
    return {
        **key.as_dict(private=False),
        "kid": private_jwk["kid"],
        "use": "sig",
        "alg": private_jwk["alg"],
    }


def seal_jwk(kek: Kek, jwk: dict[str, Any]) -> bytes:
    return kek.seal(json.dumps(jwk).encode(), context=f"signing-key:{jwk['kid']}")


def open_jwk(kek: Kek, sealed: bytes, kid: str) -> dict[str, Any]:
    return json.loads(kek.open(sealed, context=f"signing-key:{kid}"))


def import_jwk(jwk: dict[str, Any]) -> PrivateKey:
    kty = jwk.get("kty")
    if kty == "RSA":
        return RSAKey.import_key(jwk)
    if kty == "EC":
        return ECKey.import_key(jwk)
    if kty == "OKP":
        return OKPKey.import_key(jwk)
    raise ValueError(f"unsupported key type {kty!r}")


# RFC 7518 §3.5: PS256's salt is as long as the hash.
PSS_SHA256 = padding.PSS(mgf=padding.MGF1(SHA256()), salt_length=32)
ES256_BYTES = 32


@dataclass(frozen=True, slots=True)
class RingKey:
    """One key of a ring, unsealed and parsed on first use: a tenant's ring holds a key per
    algorithm, and parsing an RSA one costs ~40 ms, so a worker's first ES256 token for a tenant
    does not pay for its two RSA keys (with 10,000 tenants that was ~14 minutes of CPU per
    worker before it had served each once: bench/RESULTS.md). Until then the private material
    stays sealed (`open_private` unseals it): a key that never signs or checks a token in this
    worker is never in its memory in clear, and a sealed key takes less room than its decoded
    JWK (~2 KB a tenant less with 10,000 tenants cached)."""

    kid: str
    alg: str
    open_private: Callable[[], dict[str, Any]] = field(repr=False, compare=False)
    public_jwk: dict[str, Any]
    activates_at: datetime
    retires_at: datetime | None
    # The encoded protected header per token type (`encoded_header`).
    _headers: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    # The parsed key once asked for; two threads racing may both parse it, to the same key.
    _parsed: list[PrivateKey] = field(default_factory=list, compare=False, repr=False)
    # Its `cryptography` key once checked for signing (`_private`).
    _signing: list[CryptographyPrivateKey] = field(default_factory=list, compare=False, repr=False)

    @property
    def key(self) -> PrivateKey:
        if not self._parsed:
            self._parsed.append(import_jwk(self.open_private()))
        return self._parsed[0]

    def encoded_header(self, typ: str) -> bytes:
        """The base64url JWS protected header for tokens of type `typ`, encoded once."""
        header = self._headers.get(typ)
        if header is None:
            fields = {"alg": self.alg, "kid": self.kid, "typ": typ}
            header = urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode())
            header = self._headers[typ] = header.rstrip(b"=")
        return header

    def signature(self, signing_input: bytes) -> bytes:
        """The JWS signature of `signing_input` by this key with its algorithm (RFC 7518 §3)."""
        private = self._private
        if isinstance(private, rsa.RSAPrivateKey):
            scheme = PSS_SHA256 if self.alg == "PS256" else padding.PKCS1v15()
            return private.sign(signing_input, scheme, SHA256())
        if isinstance(private, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(SHA256())))
            return r.to_bytes(ES256_BYTES, "big") + s.to_bytes(ES256_BYTES, "big")
        return private.sign(signing_input)

    @property
    def _private(self) -> CryptographyPrivateKey:
        """The `cryptography` key behind the JWK, checked against the algorithm it signs for, so
        a key can never sign with another family's algorithm."""
        if not self._signing:
            self._signing.append(self._checked_private())
        return self._signing[0]

    def _checked_private(self) -> CryptographyPrivateKey:
        private = self.key.private_key
        expected = {
            "RS256": rsa.RSAPrivateKey,
            "PS256": rsa.RSAPrivateKey,
            "ES256": ec.EllipticCurvePrivateKey,
            "EdDSA": ed25519.Ed25519PrivateKey,
        }.get(self.alg)
        if expected is None or not isinstance(private, expected):
            raise ValueError(f"key {self.kid} cannot sign {self.alg}")
        if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name != "secp256r1":
            raise ValueError(f"key {self.kid} is not a P-256 key")
        return private


@dataclass(frozen=True, slots=True)
class KeyRing:
    """One tenant's parsed keys, newest first."""

    keys: tuple[RingKey, ...]
    # (valid until, body) of the serialised JWKS: it changes only when a key retires.
    _jwks_json: list[tuple[datetime | None, str]] = field(
        default_factory=list, compare=False, repr=False
    )

    def signer(self, alg: str, now: datetime) -> RingKey | None:
        """The newest active key for `alg`: published earlier, so every verifier knows it."""
        for key in self.keys:
            if key.alg == alg and key.activates_at <= now:
                return key
        return None

    def verifier(self, kid: str, now: datetime) -> RingKey | None:
        for key in self.keys:
            if key.kid == kid and (key.retires_at is None or key.retires_at > now):
                return key
        return None

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The public JWKS: every key not yet retired, including ones that do not sign yet."""
        return {
            "keys": [
                key.public_jwk
                for key in self.keys
                if key.retires_at is None or key.retires_at > now
            ]
        }

    def jwks_json(self, now: datetime) -> str:
        """`jwks(now)` as JSON, serialised once per ring and again only when a key retires."""
        if self._jwks_json:
            until, body = self._jwks_json[0]
            if until is None or now < until:
                return body
        body = json.dumps(self.jwks(now))
        retirements = [k.retires_at for k in self.keys if k.retires_at and k.retires_at > now]
        self._jwks_json[:] = [(min(retirements, default=None), body)]
        return body
