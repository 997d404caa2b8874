"""Who an upstream token a native app posts is (RFC 8693 token exchange, issue 11 §4): the
tenant's provider that can vouch for it, and the identity its adapter verified.

Subject token types we take (RFC 8693 §3; the last is our own URI, as §3 allows):
- `urn:ietf:params:oauth:token-type:id_token`: an ID token from Google or another OpenID
  provider, validated by the adapter against the provider's issuer, keys and audiences (its
  client id or one of its `allowed_audiences`, the app's own client ids there);
- `urn:ietf:params:oauth:token-type:access_token`: a GitHub access token, accepted only once
  GitHub confirms it was issued to the tenant's GitHub OAuth app;
- `urn:idp:params:oauth:token-type:github-authorization-code`: a GitHub authorization code the
  app got from its own redirect, redeemed here with the provider's secret (the app never holds
  it), with the app's `code_verifier` and `redirect_uri` passed on when it used them.

The provider is the one `subject_issuer` names (its slug; Keycloak's parameter name for the
same job), or, without it, the tenant's only enabled provider of a kind that takes the type.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.crypto.kek import Kek
from idp.federation import UpstreamConfig, UpstreamIdentity, provider_for
from idp.models.lookups import ProviderLookup
from idp.models.uow import UnitOfWork
from idp.services.errors import NotFound
from idp.services.tenancy.providers import (
    ProviderView,
    enabled_providers,
    upstream_config,
)
from idp.services.tenancy.tenants import TenantView

ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
GITHUB_CODE_TYPE = "urn:idp:params:oauth:token-type:github-authorization-code"
# Which kinds of provider can vouch for each subject token type.
KINDS = {
    ID_TOKEN_TYPE: ("google", "oidc"),
    ACCESS_TOKEN_TYPE: ("github",),
    GITHUB_CODE_TYPE: ("github",),
}
SUBJECT_TOKEN_TYPES = tuple(KINDS)


class NoProvider(Exception):
    """No enabled provider of the tenant takes this token (unknown `subject_issuer`, or none
    or several candidates without one): the request is at fault, not the token."""


@dataclass(frozen=True)
class SubjectToken:
    """What the app posted: the token, its type, and the optional upstream parameters."""

    token: str
    token_type: str
    subject_issuer: str | None = None
    code_verifier: str | None = None
    redirect_uri: str | None = None


def choose_provider(
    uow: UnitOfWork,
    lookup: ProviderLookup,
    kek: Kek,
    tenant: TenantView,
    subject: SubjectToken,
) -> tuple[ProviderView, UpstreamConfig]:
    """The enabled provider that vouches for this subject token, with its settings. Raises
    NoProvider."""
    slug = _provider_slug(lookup, tenant, subject)
    try:
        return upstream_config(uow, kek, tenant, slug)
    except NotFound as error:  # disabled or deleted meanwhile
        raise NoProvider(str(error)) from error


def verify_subject_token(config: UpstreamConfig, subject: SubjectToken) -> UpstreamIdentity:
    """The identity the provider's adapter verified; the adapter's UpstreamError for a token
    that fails validation or an upstream that fails."""
    adapter = provider_for(config)
    if subject.token_type == ID_TOKEN_TYPE:
        return adapter.identity_from_id_token(subject.token)
    if subject.token_type == ACCESS_TOKEN_TYPE:
        return adapter.identity_from_access_token(subject.token)
    return adapter.redeem_code(
        code=subject.token,
        redirect_uri=subject.redirect_uri or "",
        code_verifier=subject.code_verifier or "",
        nonce=None,
    )


def _provider_slug(lookup: ProviderLookup, tenant: TenantView, subject: SubjectToken) -> str:
    kinds = KINDS[subject.token_type]
    candidates = [p.slug for p in enabled_providers(lookup, tenant) if p.kind in kinds]
    if subject.subject_issuer is not None:
        if subject.subject_issuer not in candidates:
            raise NoProvider("subject_issuer names no provider that takes this token type")
        return subject.subject_issuer
    if len(candidates) != 1:
        raise NoProvider("name the provider with subject_issuer")
    return candidates[0]
