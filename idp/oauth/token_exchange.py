"""RFC 8693 token exchange at the token endpoint: a first-party app signs a person in with a
token from an upstream provider (a Google ID token, a GitHub access token or code) and gets
our tokens (issue 11 §4).

Only clients an admin registered for `urn:ietf:params:oauth:grant-type:token-exchange` may use
it (dynamic registration cannot ask for it). The upstream token is verified by the federation
adapters (services/federation/exchange.py has the token types and the provider choice), the
person is chosen by the linking rules every upstream sign-in follows
(services/federation/linking.py), and a login session without a cookie is opened as at the
authorization challenge endpoint, with amr `fed` (services/federation/sign_in.py), so the
tokens carry a `sid` and the app shows on the account page. The answer is RFC 8693 §2.2.1's:
an access token (`issued_token_type` access_token), a refresh token when the client gets them,
and an ID token for `openid`, issued like those of a code (grants.sign_in_tokens).

Not supported, refused rather than ignored: `actor_token` (delegation), `requested_token_type`
other than an access token, `audience`/`resource` (tokens are for this issuer's APIs, as from
a code). Errors: `invalid_request` for a missing or unsupported parameter or a provider that
cannot be chosen; `invalid_grant` for a subject token that fails validation, an account that
must be proven before it is linked, a refused sign-in (registration closed, account disabled),
and a tenant policy that wants a second factor: the draft's `insufficient_authorization`
belongs to the authorization challenge endpoint, so such a person signs in there or in the
browser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    UnauthorizedClientError,
    grants,
)
from flask import g, request

from idp.context import client_ip, current_tenant, services
from idp.federation import UpstreamError
from idp.oauth.clients import OAuthClient
from idp.oauth.grants import (
    TOKEN_AUTH_METHODS,
    InvalidTargetError,
    requested_scopes,
    sign_in_tokens,
)
from idp.oauth.waits import RetryLater
from idp.services.accounts.users import read_user
from idp.services.audit import FAILED
from idp.services.factors.second_step import second_factor_pending
from idp.services.federation.exchange import (
    ACCESS_TOKEN_TYPE,
    SUBJECT_TOKEN_TYPES,
    NoProvider,
    SubjectToken,
    choose_provider,
    verify_subject_token,
)
from idp.services.federation.linking import (
    FederationRefused,
    LinkProofNeeded,
    resolve_upstream_sign_in,
)
from idp.services.federation.sign_in import FEDERATION_AMR as FED
from idp.services.federation.sign_in import (
    METHOD,
    audit_federation_failure,
    open_federated_session,
)
from idp.services.oauth_clients.clients import TOKEN_EXCHANGE
from idp.services.signin.session_clients import record_session_client
from idp.services.signin.sessions import Attempt, SessionView, audit_refused_sign_in
from idp.services.tenancy.usage import FEDERATION_FAILURES
from idp.services.tokens.refresh_tokens import FamilyGrant

VIA = "token_exchange"
UNREACHABLE = "unreachable"  # federation/base.py UpstreamError's reason
RETRY_UNAVAILABLE = 30
MAX_SUBJECT_TOKEN = 8192
MAX_PARAMETER = 2048
LINK_FIRST = (
    "An account with this e-mail address exists: sign in to it (the authorization challenge "
    "endpoint or the browser) and link this provider there, then try again."
)
SECOND_FACTOR_DUE = (
    "This sign-in needs a second factor: sign in through the authorization challenge "
    "endpoint or the browser."
)


class TooManyExchanges(RetryLater):
    """Past the failure limit for this address: 429 with Retry-After (RFC 6585 §4)."""

    error = "invalid_grant"
    waiting = "Too many refused subject tokens; retry later."


class UpstreamUnavailable(OAuth2Error):
    """The upstream did not answer: 503 (RFC 6749 §4.1.2.1's `temporarily_unavailable`)."""

    error = "temporarily_unavailable"
    status_code = 503
    description = "The provider did not answer; retry later."

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(RETRY_UNAVAILABLE))]


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = [*TOKEN_AUTH_METHODS, "none"]

    def validate_token_request(self) -> None:
        client: OAuthClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(
                description="The client is not registered for token exchange."
            )
        self.request.client = client
        data = self.request.payload.data
        for name in ("actor_token", "actor_token_type"):
            if name in data:
                raise InvalidRequestError(f"{name} is not supported: no delegation here.")
        if data.get("requested_token_type") not in (None, ACCESS_TOKEN_TYPE):
            raise InvalidRequestError("Only an access token can be requested.")
        if "audience" in data or "resource" in data:
            raise InvalidTargetError("Tokens of a sign-in are for this issuer's APIs.")
        self.request.subject = _subject_token(data)
        self.request.scopes = tuple(requested_scopes(client, data.get("scope")))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: OAuthClient = self.request.client
        tenant, container = current_tenant(), services()
        attempt = Attempt(
            client_ip(), g.get("request_id"), client.client_id, request.user_agent.string, VIA
        )
        # A subject token is a credential: failures count with those of client authentication
        # from this address, so nobody makes us check (and call upstream) without end.
        source = f"{tenant.id}:{client_ip()}"
        wait = self.server.failures.retry_after(source)
        if wait:
            raise TooManyExchanges(wait)
        subject: SubjectToken = self.request.subject
        try:
            provider, config = choose_provider(
                container.uow(), container.provider_lookup, container.kek, tenant, subject
            )
        except NoProvider as error:
            raise InvalidRequestError(f"{error}.") from error
        try:
            identity = verify_subject_token(config, subject)
        except UpstreamError as error:
            uow = container.uow()
            audit_federation_failure(uow, tenant, attempt, provider.slug, error.reason)
            container.usage.record_federation(tenant.id, client.client_id, FEDERATION_FAILURES)
            if error.reason == UNREACHABLE:  # not the app's fault: it may try again
                raise UpstreamUnavailable() from error
            wait = self.server.failures.record_failure(source)
            if wait:
                raise TooManyExchanges(wait) from error
            raise InvalidGrantError(f"The subject token was refused ({error.reason}).") from error
        try:
            signed = resolve_upstream_sign_in(
                container.uow(), tenant, provider, identity, attempt=attempt, usage=container.usage
            )
        except LinkProofNeeded as error:
            audit_refused_sign_in(
                container.uow(), tenant, attempt, None, FAILED, "link proof", METHOD
            )
            raise InvalidGrantError(LINK_FIRST) from error
        except FederationRefused as error:
            raise InvalidGrantError(f"The sign-in was refused ({error.reason}).") from error
        # As after a password: the tenant's policy may want a second factor (policy.py).
        signing_in = SessionView("", signed.user_id, signed.subject, datetime.now(UTC), (FED,))
        if second_factor_pending(container.uow(), tenant.id, tenant.mfa_policy, signing_in):
            reason = "second factor due"
            audit_refused_sign_in(
                container.uow(), tenant, attempt, signed.subject, FAILED, reason, METHOD
            )
            raise InvalidGrantError(SECOND_FACTOR_DUE)
        session = open_federated_session(
            container.uow(), tenant, signed, None, attempt, container.usage
        ).session
        record_session_client(container.uow(), tenant.id, session.sid, client.client_id)
        grant = FamilyGrant(
            client_id=client.client_id,
            subject=session.subject,
            scopes=self.request.scopes,
            sid=session.sid,
            auth_time=int(session.auth_time.timestamp()),
            amr=session.amr,
        )
        user = read_user(container.person_lookup, tenant, session.subject)
        issued, _ = sign_in_tokens(client, user, grant, nonce=None)
        # RFC 8693 §2.2.1: what the access_token is.
        body = {**issued.body, "issued_token_type": ACCESS_TOKEN_TYPE}
        return 200, body, self.TOKEN_RESPONSE_HEADER


def _subject_token(data: Any) -> SubjectToken:
    """RFC 8693 §2.1's subject_token and subject_token_type, and our optional parameters."""
    token, token_type = data.get("subject_token"), data.get("subject_token_type")
    if not token or not token_type:
        raise InvalidRequestError("Send subject_token and subject_token_type.")
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise InvalidRequestError("Unsupported subject_token_type.")
    if len(token) > MAX_SUBJECT_TOKEN:
        raise InvalidRequestError("subject_token is too long.")
    optional = {}
    for name in ("subject_issuer", "code_verifier", "redirect_uri"):
        value = data.get(name)
        if value is not None and (not value or len(value) > MAX_PARAMETER):
            raise InvalidRequestError(f"{name} is empty or too long.")
        optional[name] = value
    return SubjectToken(token, token_type, **optional)
