"""Upstream identity providers: Google, GitHub and any OpenID provider (adapters).

`provider_for(config)` is the one entry point: it picks the adapter for the provider's kind.
The HTTP client and the cache of discovery documents and key sets are shared by every adapter
in the process, so a cached JWKS serves every sign-in through that upstream.
"""

from __future__ import annotations

from dataclasses import replace

from idp.federation.base import IdentityProvider, UpstreamConfig, UpstreamError, UpstreamIdentity
from idp.federation.discovery import UpstreamDirectory
from idp.federation.github import GitHubProvider
from idp.federation.google import GOOGLE_ISSUER, GoogleProvider
from idp.federation.http import DEFAULT_HTTP, UpstreamHttp
from idp.federation.oauth import callback_error
from idp.federation.oidc import OpenIdProvider

_DIRECTORY = UpstreamDirectory(DEFAULT_HTTP)


def provider_for(config: UpstreamConfig, http: UpstreamHttp | None = None) -> IdentityProvider:
    """The adapter for `config`. `http` replaces the shared client (tests use shorter
    timeouts); discovery and keys are then fetched and cached through it, apart."""
    directory = _DIRECTORY if http is None else UpstreamDirectory(http)
    client = http or DEFAULT_HTTP
    if config.kind == "github":
        return GitHubProvider(config, client)
    if config.kind == "google":
        return GoogleProvider(
            replace(config, issuer=config.issuer or GOOGLE_ISSUER), client, directory
        )
    if config.kind == "oidc":
        return OpenIdProvider(config, client, directory)
    raise UpstreamError("bad_response", f"unknown provider kind {config.kind!r}")


__all__ = [
    "IdentityProvider",
    "UpstreamConfig",
    "UpstreamError",
    "UpstreamIdentity",
    "callback_error",
    "provider_for",
]
