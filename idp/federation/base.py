"""What the rest of the IdP knows about an upstream provider: its settings, the identity it
vouches for, and the one way its calls fail.

Adapters (google.py, github.py, oidc.py) implement `IdentityProvider`; services pick one with
`idp.federation.provider_for(config)` and never learn which protocol is behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class UpstreamConfig:
    """One tenant's provider as stored (models/providers.py), with the secret unsealed."""

    kind: str  # "google", "github" or "oidc"
    slug: str
    client_id: str
    client_secret: str | None
    issuer: str | None
    scopes: tuple[str, ...]
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    api_base_url: str | None = None
    allowed_audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpstreamIdentity:
    """Who the upstream says the person is, after every check passed.

    `issuer` + `subject` is the key of a link (models/federated_identities.py). `email_verified`
    is True only when the upstream asserted it (an ID token's `email_verified`, GitHub's
    `verified` flag on the primary address); linking rules rely on it.
    """

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    picture: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)


class UpstreamError(Exception):
    """The upstream refused, failed or answered something we must not trust.

    `reason` is a stable code for the page message and the audit event: `access_denied`
    (the person cancelled), `upstream_error` (an OAuth error from upstream), `unreachable`
    (connection or timeout), `bad_response` (not what the protocol promises),
    `invalid_token` (an ID token or access token that failed validation).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class IdentityProvider(Protocol):
    """An upstream we send people to, or whose tokens a native app posts to us."""

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_challenge: str,
        login_hint: str | None = None,
    ) -> str:
        """Where to send the browser (PKCE S256; `nonce` ignored by plain OAuth upstreams)."""
        ...

    def redeem_code(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str | None
    ) -> UpstreamIdentity:
        """Exchange the callback's code and return the verified identity.

        OpenID upstreams validate the ID token in full; with `nonce` given, its `nonce` must
        equal it. An empty `code_verifier` (and, for GitHub, an empty `redirect_uri`) is left
        out of the request: a native app's GitHub code obtained without PKCE."""
        ...

    def identity_from_id_token(self, id_token: str) -> UpstreamIdentity:
        """Validate an ID token a native app got itself (signature, iss, aud in client_id
        or allowed_audiences, azp, exp, iat). OpenID upstreams only."""
        ...

    def identity_from_access_token(self, access_token: str) -> UpstreamIdentity:
        """Ask the upstream who holds this access token (GitHub's /user and /user/emails),
        once it confirmed the token was issued to our OAuth app. OpenID upstreams refuse
        (`invalid_token`): their access tokens do not name the client they were issued to."""
        ...
