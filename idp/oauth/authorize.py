"""The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2), hardened per RFC 9700.

Order matters (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2): until the client and its redirect URI are
known good, every error is shown on our own page and nobody is redirected anywhere. After that,
errors go back to the client with `state` and `iss` (RFC 9207) in the requested response mode.

A request that needs the person (account chooser, sign-in, consent) is parked as a transaction
in the store and resumed once the hosted pages are done: by the page's own answer when it knows
the session (a sign-in or a consent goes straight on to the next step or to the client), or at
`{issuer}/authorize/resume?txn=...`.

Decisions on the OIDC Core §3.1.2.1 parameters:
- `login_hint` is an e-mail address: it fills in the login form, and a session of somebody else
  needs a fresh sign-in (prompt=none: login_required). Whoever then signs in goes on: a hint is
  only a hint. A hint that is not an e-mail address is ignored.
- `id_token_hint` must be an ID token of this tenant for this client (expired is fine); it is
  stricter: after a fresh sign-in the person must be its `sub`, or the client gets
  login_required (§3.1.2.1: "SHOULD return an error").
- `acr_values` are voluntary, in order of preference: the first we support is the one we aim
  for, so a request preferring the MFA acr ("2") gets a second factor even from a signed-in
  person, and one preferring the phishing-resistant acr ("3") a passkey with user
  verification (services/factors/policy.py); values we do not know are skipped. An
  *essential* `acr` in `claims` that we cannot satisfy is a failed authentication
  (§5.5.1.1): access_denied; one whose values we support all need a second factor (or a
  passkey) asks for it. The ID token's `acr` is the first requested value the session met.
- The second factor comes after the first and before consent; a fresh sign-in (prompt=login,
  max_age) opens a new session, so it re-runs every factor.
- First-party clients (`skip_consent`) never see the consent page, not even with prompt=consent:
  their operator consented for everyone, as Keycloak does for clients without consent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc6749 import InvalidScopeError
from flask import Response, g, redirect, render_template, request
from werkzeug.datastructures import MultiDict

from idp import i18n
from idp.context import current_tenant, issuer, services, sign_in_start_wait
from idp.oauth.clients import OAuthClient
from idp.oauth.grants import S256_CHALLENGE, requested_scopes
from idp.oauth.server import oauth_server
from idp.services.accounts.users import get_user, normalise_email
from idp.services.errors import InvalidInput, NotFound
from idp.services.factors.policy import demanded_acr
from idp.services.factors.second_step import second_factor_pending
from idp.services.signin import authorization
from idp.services.signin.authorization import (
    AuthorizationRequest,
    Transaction,
    Transactions,
    issue_code_for_session,
)
from idp.services.signin.consents import ConsentOutcome, check_consent
from idp.services.signin.sessions import SessionView, current_session
from idp.services.tokens.claims import ClaimsRequest, parse_claims_request
from idp.services.tokens.id_tokens import read_id_token_hint

RESPONSE_MODES = ("query", "form_post")  # OAuth 2.0 Multiple Response Types; Form Post 1.0
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MAX_VALUE = 512
# A provider slug (services/tenancy/providers.py SLUG), for `idp_hint`.
IDP_HINT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class PageError(Exception):
    """An error nobody may be redirected with: shown on the error page (RFC 6749 §4.1.2.1)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RedirectError(Exception):
    """An RFC 6749 §4.1.2.1 error for a client whose redirect URI has been validated."""

    def __init__(
        self, error: str, description: str, redirect_uri: str, state: str | None, mode: str
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state
        self.mode = mode


def _single(params: MultiDict[str, str], name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise ValueError(name)
    return values[0] if values else None


def parse_request(params: MultiDict[str, str]) -> AuthorizationRequest:
    """A validated request, or PageError / RedirectError."""
    try:
        client_id = _single(params, "client_id")
        redirect_uri = _single(params, "redirect_uri")
    except ValueError as repeated:
        raise PageError(f"The request repeats the '{repeated}' parameter.") from None
    client = oauth_server().query_client(client_id) if client_id else None
    if client is None:
        raise PageError("The application that sent you here is not known to this sign-in service.")
    if not redirect_uri or not client.check_redirect_uri(redirect_uri):
        # RFC 9700 §4.1.3: an unregistered redirect URI is never used, not even for the error.
        raise PageError("The application sent you here with an address it has not registered.")

    mode = params.get("response_mode") or "query"
    state = params.get("state")

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri, state, mode)

    if len(params.getlist("state")) > 1:
        state = None
        raise fail("invalid_request", "The state parameter is repeated.")
    if mode not in RESPONSE_MODES or len(params.getlist("response_mode")) > 1:
        mode = "query"
        raise fail("invalid_request", "Unsupported response_mode.")
    if mode == "form_post" and urlsplit(redirect_uri).scheme not in ("http", "https"):
        mode = "query"
        raise fail("invalid_request", "form_post needs an http(s) redirect URI.")
    for name in params:
        if len(params.getlist(name)) > 1:
            raise fail("invalid_request", f"The {name} parameter is repeated.")
    return _validated(params, client, redirect_uri, mode, state, fail)


def _validated(
    params: MultiDict[str, str],
    client: OAuthClient,
    redirect_uri: str,
    mode: str,
    state: str | None,
    fail: Callable[[str, str], RedirectError],
) -> AuthorizationRequest:
    if "request" in params:  # OIDC Core §6
        raise fail("request_not_supported", "Request objects are not supported.")
    if "request_uri" in params:
        raise fail("request_uri_not_supported", "request_uri is not supported.")
    response_type = params.get("response_type")
    if not response_type:
        raise fail("invalid_request", "Missing response_type.")
    if response_type != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    if not client.check_response_type("code") or not client.check_grant_type("authorization_code"):
        raise fail("unauthorized_client", "The client may not use the authorization code grant.")
    for name in ("state", "nonce", "login_hint", "ui_locales", "claims_locales", "acr_values"):
        if len(params.get(name, "")) > MAX_VALUE:
            raise fail("invalid_request", f"{name} is longer than {MAX_VALUE} characters.")
    try:
        scopes = requested_scopes(client, params.get("scope"))
    except InvalidScopeError as error:  # its description holds only valid scope characters
        raise fail("invalid_scope", error.description) from None
    challenge = _pkce_challenge(params, client, fail)
    prompt = tuple(dict.fromkeys((params.get("prompt") or "").split()))
    if not set(prompt) <= PROMPTS:
        raise fail("invalid_request", "Unknown prompt value.")
    if "none" in prompt and len(prompt) > 1:  # OIDC Core §3.1.2.1
        raise fail("invalid_request", "prompt=none cannot be combined with other values.")
    max_age_text = params.get("max_age")
    if max_age_text is not None and not (max_age_text.isdigit() and len(max_age_text) < 10):
        raise fail("invalid_request", "max_age must be a non-negative number of seconds.")
    claims = _claims_request(params.get("claims"), fail)
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        response_mode=mode,
        state=state,
        nonce=params.get("nonce"),
        code_challenge=challenge,
        prompt=prompt,
        max_age=int(max_age_text) if max_age_text is not None else None,
        login_hint=_login_hint(params.get("login_hint")),
        expected_subject=_hinted_subject(params.get("id_token_hint"), client, fail),
        ui_locale=pick_ui_locale(params.get("ui_locales")),
        claims=claims,
        acr_values=tuple(dict.fromkeys((params.get("acr_values") or "").split())),
        idp_hint=_idp_hint(params.get("idp_hint")),
    )


def _idp_hint(hint: str | None) -> str | None:
    """`idp_hint`: a provider's slug; anything else is no hint (the login page as usual)."""
    return hint if hint and IDP_HINT.match(hint) else None


def _login_hint(hint: str | None) -> str | None:
    """The hinted e-mail address, normalised as accounts are; anything else is no hint."""
    try:
        return normalise_email(hint) if hint else None
    except InvalidInput:
        return None


def _hinted_subject(
    token: str | None, client: OAuthClient, fail: Callable[[str, str], RedirectError]
) -> str | None:
    if token is None:
        return None
    hint = read_id_token_hint(services().key_cache.ring(current_tenant().id), issuer(), token)
    if hint is None or client.client_id not in hint.audiences:
        raise fail("invalid_request", "id_token_hint is not an ID token for this client.")
    return hint.subject


def _claims_request(text: str | None, fail: Callable[[str, str], RedirectError]) -> ClaimsRequest:
    if text is None:
        return ClaimsRequest()
    try:
        claims = parse_claims_request(text)
    except ValueError:
        raise fail(
            "invalid_request", "The claims parameter is malformed (OIDC Core 5.5)."
        ) from None
    if claims.acr_unmet:
        raise fail("access_denied", "The essential acr requested cannot be satisfied.")
    return claims


def pick_ui_locale(ui_locales: str | None) -> str | None:
    """The first of the requested language tags we have pages in (RFC 4647 §3.4 lookup: `en-GB`
    falls back to `en`); None when there is none, and the pages use their default."""
    for tag in (ui_locales or "").split():
        found = i18n.lookup(tag)
        if found:
            return found
    return None


def _pkce_challenge(
    params: MultiDict[str, str], client: OAuthClient, fail: Callable[[str, str], RedirectError]
) -> str | None:
    """RFC 7636 with S256 only (RFC 9700 §2.1.1: `plain` is no protection against a leak)."""
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    public = client.view.token_endpoint_auth_method == "none"
    required = public or services().settings.tokens.pkce_required_for_confidential_clients
    if challenge is None:
        if method is not None:
            raise fail("invalid_request", "code_challenge_method without code_challenge.")
        if required:
            raise fail("invalid_request", "PKCE is required: send code_challenge (S256).")
        return None
    if method != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256.")
    if not S256_CHALLENGE.match(challenge):
        raise fail("invalid_request", "code_challenge is not a S256 challenge.")
    return challenge


def csp_with_form_target(redirect_uri: str, image_origin: str | None = None) -> str:
    """Our HTML policy, with the client's redirect URI's origin added to `form-action`.

    Browsers apply `form-action` to the redirects that follow a form submission too (CSP Level
    3 §6.4.1), and a login or consent POST ends with a redirect to the client; so does the form
    of the form_post response mode. `image_origin` is added to `img-src` for a client's logo.
    """
    parts = urlsplit(redirect_uri)
    target = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    images = f"; img-src 'self' {image_origin}" if image_origin else ""
    return (
        f"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' {target}"
        + images
    )


def deliver(redirect_uri: str, mode: str, params: list[tuple[str, str]]) -> Response:
    """Send the response parameters back to the client in the requested response mode."""
    if mode == "form_post":
        html = render_template("pages/form_post.html", action=redirect_uri, fields=params)
        response = Response(html, mimetype="text/html")
        # OAuth 2.0 Form Post Response Mode: the form goes to the client.
        response.headers["Content-Security-Policy"] = csp_with_form_target(redirect_uri)
    else:
        separator = "&" if "?" in redirect_uri else "?"
        response = redirect(redirect_uri + separator + urlencode(params), 303)
    response.headers["Cache-Control"] = "no-store"
    return response


def deliver_error(error: RedirectError) -> Response:
    params = [("error", error.error), ("error_description", error.description)]
    if error.state is not None:
        params.append(("state", error.state))
    params.append(("iss", issuer()))  # RFC 9207 §2
    return deliver(error.redirect_uri, error.mode, params)


def error_page(error: PageError) -> Response:
    html = render_template(
        "pages/error.html",
        status=error.status,
        title="Sign-in request refused",
        message=error.message,
        request_id=g.get("request_id"),
    )
    response = Response(html, status=error.status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


class AuthorizationEndpoint:
    """GET/POST {issuer}/authorize and its continuation after the hosted pages."""

    def authorize(self, cookie: str | None) -> Response:
        params = request.args if request.method == "GET" else request.form
        try:
            authz = parse_request(params)
        except PageError as error:
            return error_page(error)
        except RedirectError as error:
            return deliver_error(error)
        session = current_session(services().session_lookup, current_tenant(), cookie)
        auth_time = session.auth_time.timestamp() if session else None
        now = time.time()
        after = authorization.login_after(authz, auth_time, now)
        if session is not None and _someone_else(authz, session):
            after = now
        return self._proceed(authz, session, after, None)

    def resume(self, cookie: str | None, transaction_id: str) -> Response:
        tenant = current_tenant()
        transaction = Transactions(services().store).find(tenant.id, transaction_id)
        if transaction is None:
            return error_page(PageError(EXPIRED))
        session = current_session(services().session_lookup, tenant, cookie)
        return self.resume_as(session, transaction)

    def resume_as(self, session: SessionView | None, transaction: Transaction) -> Response:
        """The parked request goes on as `session`. A page that has just signed the person in
        or recorded their consent knows the session (a new one's cookie is on its answer, not
        yet on the request) and holds the transaction as it saved it, so the person goes on
        without a round trip through `/authorize/resume` and the store is not read again. A
        second submit racing this one is settled where the code is issued: only one caller
        can spend the transaction (`Transactions.finish`)."""
        return self._proceed(transaction.request, session, transaction.login_after, transaction)

    def _proceed(
        self,
        authz: AuthorizationRequest,
        session: SessionView | None,
        login_after: float | None,
        transaction: Transaction | None,
    ) -> Response:
        tenant = current_tenant()
        store = services().store
        client = oauth_server().query_client(authz.client_id)
        if client is None or not client.check_redirect_uri(authz.redirect_uri):
            return error_page(PageError(EXPIRED))  # deleted or changed since the request began
        consent = _consent(authz, client, session, transaction)
        auth_time = session.auth_time.timestamp() if session else None
        account_chosen = bool(transaction and transaction.account_chosen)
        step = authorization.next_step(
            authz,
            auth_time,
            login_after,
            consent.given,
            account_chosen,
            session is not None and _second_factor_due(authz, session),
        )
        if step in (authorization.CONSENT, authorization.ISSUE):
            assert session is not None
            if authz.expected_subject not in (None, session.subject):
                # Signed in afresh, as someone other than the id_token_hint names.
                if transaction is not None:
                    Transactions(store).finish(tenant.id, transaction.id)
                return _redirect_error(authz, "login_required", "Another person signed in.")
        if step != authorization.ISSUE and "none" in authz.prompt:
            # OIDC Core §3.1.2.6: prompt=none never shows a page.
            signing_in = step in (authorization.LOGIN, authorization.SECOND_FACTOR)
            error = "login_required" if signing_in else "consent_required"
            return _redirect_error(authz, error, "The person must interact.")
        if step != authorization.ISSUE:
            if transaction is None:
                if sign_in_start_wait():
                    return _redirect_error(authz, "temporarily_unavailable", TOO_MANY_STARTED)
                transaction = Transactions(store).begin(tenant.id, authz, login_after)
            # Each step is a hosted page of the same name: login, mfa, consent, select_account.
            return redirect(f"{issuer()}/{step}?{urlencode({'txn': transaction.id})}", 303)
        assert session is not None
        if transaction is not None and not Transactions(store).finish(tenant.id, transaction.id):
            return error_page(PageError(EXPIRED))  # a double submit: the first one won
        code = issue_code_for_session(
            services().uow(),
            store,
            tenant.id,
            session,
            client_id=authz.client_id,
            redirect_uri=authz.redirect_uri,
            scopes=consent.scopes,
            code_challenge=authz.code_challenge,
            nonce=authz.nonce,
            # The acr_values travel with the claims request to the ID token (acr_for).
            claims=replace(authz.claims, acr_values=authz.acr_values),
        )
        params = [("code", code)]
        if authz.state is not None:
            params.append(("state", authz.state))
        params.append(("iss", issuer()))
        return deliver(authz.redirect_uri, authz.response_mode, params)

    def deny(self, transaction: Transaction) -> Response:
        """The person declined on the consent page: access_denied (RFC 6749 §4.1.2.1)."""
        Transactions(services().store).finish(current_tenant().id, transaction.id)
        return _redirect_error(transaction.request, "access_denied", "The person declined.")


def _redirect_error(authz: AuthorizationRequest, error: str, description: str) -> Response:
    return deliver_error(
        RedirectError(error, description, authz.redirect_uri, authz.state, authz.response_mode)
    )


def _second_factor_due(authz: AuthorizationRequest, session: SessionView) -> bool:
    demanded = demanded_acr(authz.acr_values, authz.claims.essential_acr)
    return second_factor_pending(
        services().uow(), current_tenant().id, current_tenant().mfa_policy, session, demanded
    )


def _someone_else(authz: AuthorizationRequest, session: SessionView) -> bool:
    """The session is not the person the hints name, so a fresh sign-in is needed."""
    if authz.expected_subject is not None and authz.expected_subject != session.subject:
        return True
    if authz.login_hint is None:
        return False
    try:
        email = get_user(services().uow(), current_tenant(), session.subject).email
    except NotFound:
        return True
    return email != authz.login_hint


def _consent(
    authz: AuthorizationRequest,
    client: OAuthClient,
    session: SessionView | None,
    transaction: Transaction | None,
) -> ConsentOutcome:
    """Consent without the page: a first-party client, an approval of the page in this very
    request by this session, or a remembered consent (services.consents for offline_access)."""
    if session is None:
        return ConsentOutcome(False, authz.scopes)
    approved = bool(transaction and transaction.consented_sid == session.sid)
    if client.view.skip_consent or approved:
        return ConsentOutcome(True, authz.scopes)
    return check_consent(
        services().uow(),
        current_tenant().id,
        session.user_id,
        authz.client_id,
        authz.scopes,
        interactive="none" not in authz.prompt,
        force_page="consent" in authz.prompt,
    )


EXPIRED = "This sign-in request has expired or was already used. Go back to the application."
# Past rate_limits.sign_ins_started_per_minute (config.toml): each started sign-in is kept in the
# store until it ends, so a stranger could otherwise fill it.
TOO_MANY_STARTED = "Too many sign-ins were started from this address; retry in a minute."

authorization_endpoint = AuthorizationEndpoint()
