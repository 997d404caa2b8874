"""Signing in through an upstream provider (issue 11 §2): the round trip and its callback.

- `GET {issuer}/federation/{slug}/start?txn=`: the "Continue with …" button. A plain link, not
  a form: browsers apply a page's CSP `form-action` to the redirects after a form post
  (CSP Level 3 §6.4.1), so a form could not end at the upstream's origin. Nothing a stranger
  gains by making a browser follow it: the flow is bound to that browser, and only the
  person's own sign-in upstream can finish it.
- `GET {issuer}/federation/{slug}/callback`: the upstream's answer (RFC 6749 §4.1.2). The
  `state` must be one this browser started and is spent on first use (services/federation/
  flow.py); the adapter redeems the code with the PKCE verifier and checks the ID token and its
  nonce (idp/federation); then the linking rules (services/federation/linking.py) decide who
  signs in, and the authorization request resumes, so our MFA policy and consent still run.
  Every failure ends on the login page with a message, never a 500.

The proof and confirmation of a link that is not automatic are in federation_link.py; the
account page's "link another provider" in account_federation.py.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from flask import g, redirect, request
from werkzeug.wrappers import Response

from idp.context import client_ip, current_tenant, issuer, services
from idp.federation import UpstreamError, provider_for
from idp.federation.base import UpstreamConfig, UpstreamIdentity
from idp.federation.oauth import callback_error
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import (
    federation_browser_cookie,
    session_cookie,
    set_federation_browser_cookie,
    set_pending_link_cookie,
)
from idp.http.pages.forms import MAX_FIELD, no_referrer
from idp.http.pages.routes import continue_signed_in, find_transaction, pending_link_page
from idp.services.errors import NotFound
from idp.services.federation.flow import (
    FLOW_LIFETIME,
    LINK,
    PENDING_LINK_LIFETIME,
    SIGN_IN,
    Flow,
    Flows,
    PendingLink,
    PendingLinks,
    browser_value,
    code_challenge,
)
from idp.services.federation.linking import (
    FederationRefused,
    IdentityTaken,
    LinkProofNeeded,
    link_identity,
    resolve_upstream_sign_in,
)
from idp.services.federation.sign_in import audit_federation_failure, open_federated_session
from idp.services.rate_limits import WindowLimiter
from idp.services.signin.sessions import Attempt, current_session
from idp.services.tenancy.providers import ProviderView, callback_url, upstream_config
from idp.services.tenancy.usage import FEDERATION_FAILURES

bp = tenant_pages("federation", __name__)

# Round trips one address may start per minute at one tenant: each writes a store entry.
STARTS_PER_MINUTE = 30


def _callback_url(slug: str) -> str:
    """What the operator registers upstream (tenancy/providers.py `callback_url`)."""
    return callback_url(issuer(), slug)


def back_to_login(txn: str, reason: str) -> Response:
    """The login page of the same authorization request, saying why (federation_messages)."""
    query = {"txn": txn, "federation": reason} if txn else {"federation": reason}
    return no_referrer(redirect(f"{issuer()}/login?{urlencode(query)}", 303))


def _account_page(federation: str | None = None) -> Response:
    """The account page, saying why a link was not made (federation_messages) or that it was."""
    query = {"federation": federation} if federation else {"done": "federation_linked"}
    return redirect(f"{issuer()}/account?{urlencode(query)}", 303)


def _attempt(txn: str) -> Attempt:
    transaction = find_transaction(txn)
    client_id = transaction.request.client_id if transaction else None
    return Attempt(client_ip(), g.get("request_id"), client_id, request.user_agent.string)


def _enabled_provider(slug: str) -> tuple[ProviderView, UpstreamConfig] | None:
    container = services()
    try:
        return upstream_config(container.uow(), container.kek, current_tenant(), slug)
    except NotFound:  # unknown or disabled
        return None


def start_round_trip(
    slug: str, mode: str, txn: str, user_id: int | None = None
) -> tuple[str | None, str, str | None]:
    """Begin a flow: (the upstream URL or None, this browser's binding value, the reason when
    it failed). Shared by the login buttons and the account page's link button."""
    browser = browser_value(federation_browser_cookie())
    limiter = WindowLimiter(
        services().store, f"federation-start:{current_tenant().id}", STARTS_PER_MINUTE, 60
    )
    if limiter.hit(client_ip()) is not None:
        return None, browser, "throttled"
    found = _enabled_provider(slug)
    if found is None:
        return None, browser, "unavailable"
    _, config = found
    flow = Flows(services().store).begin(current_tenant().id, slug, mode, txn, browser, user_id)
    transaction = find_transaction(txn)
    try:
        url = provider_for(config).authorization_url(
            redirect_uri=_callback_url(slug),
            state=flow.state,
            nonce=flow.nonce,
            code_challenge=code_challenge(flow.code_verifier),
            login_hint=transaction.request.login_hint if transaction else None,
        )
    except UpstreamError as error:
        return None, browser, error.reason
    return url, browser, None


@bp.get("/federation/<slug>/start")
def start(slug: str) -> Response:
    txn = request.args.get("txn", "")[:MAX_FIELD]
    url, browser, failed = start_round_trip(slug[:MAX_FIELD], SIGN_IN, txn)
    if url is None:
        return back_to_login(txn, failed or "unavailable")
    response = no_referrer(redirect(url, 303))
    set_federation_browser_cookie(response, browser, FLOW_LIFETIME)
    return response


@bp.get("/federation/<slug>/callback")
def callback(slug: str) -> Response:
    tenant = current_tenant()
    flow = Flows(services().store).finish(
        tenant.id, request.args.get("state", "")[:MAX_FIELD], federation_browser_cookie()
    )
    if flow is None or flow.provider != slug:
        return back_to_login("", "expired")
    if "error" in request.args:  # RFC 6749 §4.1.2.1; the description is never shown or trusted
        return _failed(flow, callback_error(request.args.get("error")).reason)
    found = _enabled_provider(slug)
    if found is None:
        return _failed(flow, "unavailable")
    provider, config = found
    try:
        identity = provider_for(config).redeem_code(
            code=request.args.get("code", "")[:MAX_FIELD],
            redirect_uri=_callback_url(slug),
            code_verifier=flow.code_verifier,
            nonce=flow.nonce,
        )
    except UpstreamError as failure:
        return _failed(flow, failure.reason)
    if flow.mode == LINK:
        return _link_for_signed_in(flow, provider, identity)
    return _sign_in(flow, provider, identity)


def _failed(flow: Flow, reason: str) -> Response:
    """The upstream cancelled, failed or was not trusted: audited, counted, and said."""
    attempt = _attempt(flow.txn)
    audit_federation_failure(services().uow(), current_tenant(), attempt, flow.provider, reason)
    services().usage.record_federation(current_tenant().id, attempt.client_id, FEDERATION_FAILURES)
    if flow.mode == LINK:
        return _account_page(reason)
    return back_to_login(flow.txn, reason)


def _sign_in(flow: Flow, provider: ProviderView, identity: UpstreamIdentity) -> Response:
    tenant, container = current_tenant(), services()
    attempt = _attempt(flow.txn)
    try:
        signed = resolve_upstream_sign_in(
            container.uow(), tenant, provider, identity, attempt=attempt, usage=container.usage
        )
    except FederationRefused as refused:
        return back_to_login(flow.txn, refused.reason)
    except LinkProofNeeded as needed:
        # Claims are left behind: the pending link needs only who the identity is.
        pending = PendingLink(
            provider.slug, flow.txn, needed.user_id, needed.email, replace(identity, claims={})
        )
        handle = PendingLinks(container.store).save(tenant.id, pending)
        response = redirect(pending_link_page(flow.txn), 303)
        set_pending_link_cookie(response, handle, PENDING_LINK_LIFETIME)
        return no_referrer(response)
    signed_in = open_federated_session(
        container.uow(), tenant, signed, session_cookie(), attempt, container.usage
    )
    # A pending link this sign-in may prove is handled by continue_signed_in (routes.py).
    return no_referrer(continue_signed_in(find_transaction(flow.txn), signed_in))


def _link_for_signed_in(flow: Flow, provider: ProviderView, identity: UpstreamIdentity) -> Response:
    """The account page's "link another provider": only for the person who started it."""
    tenant, container = current_tenant(), services()
    session = current_session(container.session_lookup, tenant, session_cookie())
    if session is None or session.user_id != flow.user_id:
        return _account_page("expired")
    try:
        link_identity(
            container.uow(),
            tenant,
            session.user_id,
            provider,
            identity,
            attempt=_attempt(""),
            usage=container.usage,
        )
    except IdentityTaken:
        return _account_page("taken")
    except NotFound:
        return _account_page("expired")
    return _account_page()
