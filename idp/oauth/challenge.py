"""The Authorization Challenge Endpoint, `POST {issuer}/authorize-challenge`, of OAuth 2.0 for
First-Party Applications (draft-ietf-oauth-first-party-apps §5): a first-party app posts the
person's e-mail address and password, and gets an authorization code without a browser.

The draft leaves the credentials to extensions; ours are:
- first request: `username` (the e-mail address) and `password`, with `scope`,
  `code_challenge` and `code_challenge_method=S256` (PKCE is required), optionally
  `acr_values`; the client authenticates as at the token endpoint (public clients send
  `client_id`);
- follow-up, when the answer was `insufficient_authorization`: `auth_session` and `otp` (a
  TOTP code or a recovery code).

Answers (§5.2): 200 `{"authorization_code": ...}`, redeemed at the token endpoint with
`code_verifier` and no `redirect_uri`; otherwise an error (400 unless said):
- `invalid_request`, `invalid_scope`; `invalid_client` (401) as at the token endpoint;
- `unauthorized_client`: the client is not registered as first-party (an admin's setting);
- `access_denied`: wrong e-mail address or password, one answer whether the account exists
  or not; 429 with Retry-After while the account or the address is locked out;
- `insufficient_authorization` with `auth_session`: a second factor is due (and again, with a
  fresh `auth_session`, after a wrong code; 429 with Retry-After while codes are throttled);
- `invalid_session`: an unknown, expired, spent or other client's `auth_session`;
- `redirect_to_web`: what the app cannot do natively (a passkey, enrolling a second factor,
  confirming the e-mail address): it starts an ordinary authorization request in the browser.
  We answer no `request_uri` (no PAR here), so the app builds that request itself.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidRequestError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.endpoint import Endpoint
from flask import g, request

from idp.context import client_ip, current_tenant, services, sign_in_service
from idp.oauth.clients import OAuthClient
from idp.oauth.grants import S256_CHALLENGE, TOKEN_AUTH_METHODS, requested_scopes
from idp.services.factors.second_step import CodeRefused, Verifier, verify_second_factor
from idp.services.factors.throttle import FactorThrottle
from idp.services.signin.challenge import (
    AuthSessions,
    ChallengeRequest,
    Issued,
    Outcome,
    SecondFactorDue,
    continue_sign_in,
)
from idp.services.signin.sessions import Attempt, SignInRefused

VIA = "authorization_challenge"
MAX_USERNAME = 320  # RFC 5321 §4.5.3.1: the longest e-mail address
MAX_CODE = 64
MAX_ACR_VALUES = 512  # as at the authorization endpoint
RETRY_AFTER_DEFAULT = 60  # a lockout refusal always carries its wait; a safe guess otherwise
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class ChallengeError(OAuth2Error):
    """An error of the draft's §5.2.2, optionally with the `auth_session` to go on with, and
    `Retry-After` when it is a wait (RFC 6585 §4)."""

    def __init__(
        self,
        description: str,
        auth_session: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description=description)
        self.auth_session = auth_session
        self.retry_after = retry_after
        if retry_after:
            self.status_code = 429

    def get_body(self) -> list[tuple[str, Any]]:
        body = super().get_body()
        return [*body, ("auth_session", self.auth_session)] if self.auth_session else body

    def get_headers(self) -> list[tuple[str, str]]:
        headers = super().get_headers()
        return [*headers, ("Retry-After", str(self.retry_after))] if self.retry_after else headers


class InsufficientAuthorization(ChallengeError):
    error = "insufficient_authorization"


class RedirectToWeb(ChallengeError):
    error = "redirect_to_web"


class InvalidSession(ChallengeError):
    error = "invalid_session"


class SignInDenied(ChallengeError):
    error = AccessDeniedError.error


WRONG_CREDENTIALS = "The e-mail address or password is not right."


class AuthorizationChallenge(Endpoint):
    ENDPOINT_NAME = "authorization_challenge"

    def __call__(self, oauth_request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: OAuthClient = self.server.authenticate_client(
            oauth_request, [*TOKEN_AUTH_METHODS, "none"], self.ENDPOINT_NAME
        )
        oauth_request.client = client
        if not (client.view.first_party and client.check_grant_type("authorization_code")):
            raise UnauthorizedClientError(
                description="The client is not registered as a first-party app."
            )
        form = oauth_request.form
        if "auth_session" in form:
            outcome = self._second_factor(client, form)
        else:
            outcome = self._password(client, form)
        if isinstance(outcome, Issued):
            return 200, {"authorization_code": outcome.code}, NO_STORE
        if isinstance(outcome, SecondFactorDue):
            raise InsufficientAuthorization("A second factor is due.", outcome.auth_session)
        raise RedirectToWeb(outcome.reason)

    def _password(self, client: OAuthClient, form: Any) -> Outcome:
        challenge = _challenge_request(client, form)
        username, password = form.get("username"), form.get("password")
        if not username or password is None:
            raise InvalidRequestError("Send username and password, or auth_session and otp.")
        if len(username) > MAX_USERNAME:
            raise SignInDenied(WRONG_CREDENTIALS)
        tenant, container = current_tenant(), services()
        try:
            signed_in = sign_in_service().sign_in(
                container.uow(), tenant, username, password, client_ip(), None, _attempt(client)
            )
        except SignInRefused as refused:
            if refused.throttled:
                wait = refused.retry_after or RETRY_AFTER_DEFAULT
                raise SignInDenied("Too many attempts; retry later.", None, wait) from None
            if refused.unverified:
                raise RedirectToWeb("Confirm the e-mail address first.") from None
            raise SignInDenied(WRONG_CREDENTIALS) from None
        return continue_sign_in(
            container.uow(), container.store, tenant, challenge, signed_in.session
        )

    def _second_factor(self, client: OAuthClient, form: Any) -> Outcome:
        code = form.get("otp")
        if not code or len(code) > MAX_CODE:
            raise InvalidRequestError("Send the otp parameter with auth_session.")
        tenant, container = current_tenant(), services()
        sessions = AuthSessions(container.store)
        pending = sessions.take(tenant.id, client.client_id, form["auth_session"])
        if pending is None:
            raise InvalidSession("The auth_session is unknown, expired or already used.")
        verifier = Verifier(container.kek, FactorThrottle(container.store), container.lockout())
        try:
            stepped = verify_second_factor(
                container.uow(),
                verifier,
                tenant,
                pending.session(pending.amr),
                code,
                _attempt(client),
            )
        except CodeRefused as refused:
            again = sessions.open(tenant.id, pending)
            if refused.wait:
                wait = refused.wait
                raise InsufficientAuthorization("Too many codes; wait.", again, wait) from None
            raise InsufficientAuthorization("The code is not right.", again) from None
        if stepped is None:
            raise InvalidSession("The sign-in has ended.")
        return continue_sign_in(
            container.uow(), container.store, tenant, pending.request, pending.session(stepped.amr)
        )


def _attempt(client: OAuthClient) -> Attempt:
    return Attempt(
        client_ip(), g.get("request_id"), client.client_id, request.user_agent.string, VIA
    )


def _challenge_request(client: OAuthClient, form: Any) -> ChallengeRequest:
    """The first request's scope, PKCE challenge (S256, required) and `acr_values`."""
    challenge, method = form.get("code_challenge"), form.get("code_challenge_method")
    if not challenge or method != "S256" or not S256_CHALLENGE.match(challenge):
        raise InvalidRequestError("PKCE is required: code_challenge with S256.")
    acr_values = form.get("acr_values") or ""
    if len(acr_values) > MAX_ACR_VALUES:
        raise InvalidRequestError(f"acr_values is longer than {MAX_ACR_VALUES} characters.")
    return ChallengeRequest(
        client_id=client.client_id,
        scopes=tuple(requested_scopes(client, form.get("scope"))),
        code_challenge=challenge,
        acr_values=tuple(dict.fromkeys(acr_values.split())),
    )
