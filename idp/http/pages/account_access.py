"""How the account pages know who is there (DESIGN §13): the browser's login session, and
without one a real authorization request of the tenant's account client, whose callback
brings the person back to the page they asked for (services/accounts/account_client.py).

Every account view starts with `signed_in()`; when it is None the view returns
`sign_in_first()`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, redirect, request

from idp.context import client_ip, current_tenant, issuer, services, sign_in_start_wait
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import (
    account_state_cookie,
    clear_account_state_cookie,
    session_cookie,
    set_account_state_cookie,
)
from idp.http.pages.rendering import render_page
from idp.http.pages.routes import MAX_FIELD, TOO_MANY
from idp.oauth.authorize import PageError, error_page
from idp.services.accounts.account_client import (
    PENDING_LIFETIME,
    AccountSignInFailed,
    begin_sign_in,
    ensure_account_client,
    finish_sign_in,
)
from idp.services.accounts.password_reset import Accounts, Attempt
from idp.services.factors.second_step import second_factor_pending
from idp.services.signin.sessions import LoginThrottle, SessionView, current_session

bp = tenant_pages("account_access", __name__)


def signed_in() -> SessionView | None:
    """The browser's session, unless it still owes a second factor (issue 10 §4): then the
    account page too goes through the account client's sign-in, which asks for it."""
    tenant = current_tenant()
    session = current_session(services().session_lookup, tenant, session_cookie())
    if session is None or second_factor_pending(
        services().uow(), tenant.id, tenant.mfa_policy, session
    ):
        return None
    return session


def sign_in_first(fresh: bool = False) -> Response:
    """Start the account client's authorization request; afterwards the person lands on this
    page (a GET) or the account page (after a form, which is not replayed). `fresh`: a new
    sign-in with every factor even when signed in (prompt=login)."""
    tenant = current_tenant()
    here = request.path if request.method == "GET" else f"/t/{tenant.slug}/account"
    if request.method == "GET" and request.query_string:
        here += "?" + request.query_string.decode("latin-1")
    wait = sign_in_start_wait()
    if wait:
        response = error_page(PageError(TOO_MANY, 429))
        response.headers["Retry-After"] = str(wait)
        return response
    ensure_account_client(services().uow(), tenant, issuer())
    pending = begin_sign_in(services().store, tenant, issuer(), here, fresh)
    response = redirect(pending.authorize_url, 303)
    set_account_state_cookie(response, pending.state, int(PENDING_LIFETIME))
    return response


@bp.get("/account/callback")
def callback() -> Any:
    """RFC 6749 §4.1.2: the authorization response of the account client."""
    try:
        back_to = finish_sign_in(
            services().store,
            current_tenant(),
            issuer(),
            account_state_cookie(),
            request.args.get("state", "")[:MAX_FIELD],
            request.args.get("code", "")[:MAX_FIELD],
            signed_in(),
        )
    except AccountSignInFailed:
        response = render_page("pages/account_signin_failed.html", status=400)
    else:
        # Only paths this module stored under the tenant's /account: never an open redirect.
        response = redirect(back_to, 303)
    clear_account_state_cookie(response)
    return response


def accounts() -> Accounts:
    container = services()
    return Accounts(
        container.passwords,
        container.mailer,
        container.revocations,
        container.backchannel,
        container.settings.tokens,
    )


def login_throttle() -> LoginThrottle:
    """The lockout shared by every sign-in method (services/signin/lockout.py)."""
    return services().lockout()


def attempt() -> Attempt:
    return Attempt(client_ip(), g.get("request_id"))
