"""An OpenID provider's metadata and signing keys, fetched over HTTP and cached in process.

Discovery (OpenID Connect Discovery 1.0 §4) is cached for a few minutes: every sign-in needs
the endpoints, and an upstream that changes them can wait that long. The JWKS is cached too and
fetched again when a token names a `kid` we do not hold (the upstream rotated its keys), but at
most once a minute per upstream on that path: a stranger posting tokens with made-up `kid`s
must not turn us into a client hammering the upstream (OIDC Core §10.1.1).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError

from idp.crypto.keys import PrivateKey, import_jwk
from idp.federation.base import UpstreamError
from idp.federation.http import UpstreamHttp, require_object

DISCOVERY_TTL = 300.0
JWKS_TTL = 600.0
UNKNOWN_KID_REFETCH_INTERVAL = 60.0
# A JWKS is public; should an upstream publish private parameters, we never hold them.
PRIVATE_PARAMS = ("d", "p", "q", "dp", "dq", "qi", "oth")


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a discovery document we use, checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    token_endpoint_auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class UpstreamKey:
    """A public key from an upstream JWKS, with what the JWK said about its use."""

    kid: str | None
    alg: str | None
    key: PrivateKey


@dataclass
class _Entry:
    value: Any
    fetched_at: float
    refetched_at: float = float("-inf")


class UpstreamDirectory:
    """Discovery documents and key sets, keyed by URL, shared by every adapter in a process."""

    def __init__(self, http: UpstreamHttp) -> None:
        self._http = http
        self._lock = threading.Lock()
        self._metadata: dict[str, _Entry] = {}
        self._keys: dict[str, _Entry] = {}

    def metadata(self, issuer: str) -> ProviderMetadata:
        """The issuer's discovery document; its `issuer` must equal ours exactly (§4.3)."""
        with self._lock:
            entry = self._metadata.get(issuer)
            if entry and time.monotonic() - entry.fetched_at < DISCOVERY_TTL:
                return entry.value
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        found = _parse_metadata(issuer, require_object(self._http.get_json(url), "discovery"))
        with self._lock:
            self._metadata[issuer] = _Entry(found, time.monotonic())
        return found

    def key(self, jwks_uri: str, kid: str | None) -> UpstreamKey | None:
        """The key named `kid` (or the only key, for a token without `kid`); None if unknown.

        An unknown `kid` fetches the set again, unless that was done less than a minute ago.
        """
        now = time.monotonic()
        with self._lock:
            entry = self._keys.get(jwks_uri)
            fresh = entry is not None and now - entry.fetched_at < JWKS_TTL
        if entry is None or not fresh:
            entry = self._fetch_keys(jwks_uri)
        found = _pick(entry.value, kid)
        if found is not None:
            return found
        with self._lock:
            if now - entry.refetched_at < UNKNOWN_KID_REFETCH_INTERVAL:
                return None
            entry.refetched_at = now
        refetched = self._fetch_keys(jwks_uri, refetched_at=now)
        return _pick(refetched.value, kid)

    def _fetch_keys(self, jwks_uri: str, refetched_at: float = float("-inf")) -> _Entry:
        document = require_object(self._http.get_json(jwks_uri), "jwks")
        raw_keys = document.get("keys")
        if not isinstance(raw_keys, list):
            raise UpstreamError("bad_response", "the JWKS has no keys")
        entry = _Entry(_import_keys(raw_keys), time.monotonic(), refetched_at)
        with self._lock:
            self._keys[jwks_uri] = entry
        return entry


def _parse_metadata(issuer: str, document: dict[str, Any]) -> ProviderMetadata:
    if document.get("issuer") != issuer:
        raise UpstreamError("bad_response", "the discovery document names another issuer")
    required = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise UpstreamError("bad_response", f"discovery lacks {name}")
        required[name] = value
    userinfo = document.get("userinfo_endpoint")
    methods = document.get("token_endpoint_auth_methods_supported")
    return ProviderMetadata(
        issuer=issuer,
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
        # §3: "If omitted, the default is client_secret_basic".
        token_endpoint_auth_methods=(
            tuple(m for m in methods if isinstance(m, str))
            if isinstance(methods, list)
            else ("client_secret_basic",)
        ),
        **required,
    )


def _import_keys(raw_keys: list[Any]) -> tuple[UpstreamKey, ...]:
    """The signing keys of a JWKS; keys we cannot use (encryption, unknown types) are skipped."""
    keys = []
    for jwk in raw_keys:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        public = {name: value for name, value in jwk.items() if name not in PRIVATE_PARAMS}
        try:
            key = import_jwk(public)
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        kid, alg = jwk.get("kid"), jwk.get("alg")
        keys.append(
            UpstreamKey(
                kid if isinstance(kid, str) else None, alg if isinstance(alg, str) else None, key
            )
        )
    return tuple(keys)


def _pick(keys: tuple[UpstreamKey, ...], kid: str | None) -> UpstreamKey | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.kid == kid), None)
