"""{issuer}/logout: OpenID Connect RP-Initiated Logout 1.0 (§2, GET and POST) and its pages.

The checks live in services/signin/logout.py; this module decides between signing out at once,
asking the person first, and refusing, and turns the outcome into a redirect or a page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, g, redirect, request
from werkzeug.datastructures import MultiDict

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import (
    csrf_ok,
    session_cookie,
    set_session_cookie,
)
from idp.http.pages.rendering import render_page
from idp.http.pages.routes import FORM_EXPIRED
from idp.i18n import N_
from idp.services.signin.logout import (
    LogoutParams,
    LogoutRefused,
    LogoutRequest,
    check_logout_request,
    sign_out,
)
from idp.services.signin.sessions import Attempt, current_session

PARAMS = (
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
    "logout_hint",
    "ui_locales",
)
# The confirmation form's buttons: a submission carries one, an RP's POST (§2) never does.
DECISION = "decision"
SIGN_OUT = "signout"

bp = tenant_pages("logout", __name__)


@bp.get("/logout")
def logout() -> Response:
    return _answer(request.args)


@bp.post("/logout")
def logout_submit() -> Response:
    if DECISION in request.form:
        return _confirmed()
    # §2 lets the client POST the request instead. A cross-site POST arrives without our
    # SameSite=Lax session cookie, so we could not tell "no session" from "cookie withheld";
    # the same request as a top-level GET carries it.
    try:
        params = _params(request.form)
    except LogoutRefused as refused:
        return _refused(refused)
    query = urlencode({name: value for name, value in vars(params).items() if value is not None})
    return redirect(f"{issuer()}/logout?{query}", 303)


def _answer(source: MultiDict[str, str]) -> Response:
    """Sign out at once when the hint proves the client knows this session, else ask (§2)."""
    try:
        checked = _checked(source)
    except LogoutRefused as refused:
        return _refused(refused)
    session = current_session(services().session_lookup, current_tenant(), session_cookie())
    if session is None or checked.proves_session(session.sid):
        return _sign_out(checked)
    return _confirm_page(checked)


def _confirmed() -> Response:
    try:
        checked = _checked(request.form)
    except LogoutRefused as refused:
        return _refused(refused)
    if request.form.get(DECISION) != SIGN_OUT:
        # Cancelled: nothing ends, and the client is not told a sign-out it did not get.
        return _page("pages/signed_in.html")
    if not csrf_ok():
        return _confirm_page(checked, 400, FORM_EXPIRED)
    return _sign_out(checked)


def _params(source: MultiDict[str, str]) -> LogoutParams:
    for name in PARAMS:
        if len(source.getlist(name)) > 1:
            raise LogoutRefused(f"The request repeats the '{name}' parameter.")
    return LogoutParams(**{name: source.get(name) for name in PARAMS})


def _checked(source: MultiDict[str, str]) -> LogoutRequest:
    tenant = current_tenant()
    container = services()
    return check_logout_request(
        container.key_cache.ring(tenant.id),
        container.client_lookup,
        tenant,
        issuer(),
        _params(source),
    )


def _sign_out(checked: LogoutRequest) -> Response:
    container = services()
    client_id = checked.client.client_id if checked.client else None
    sign_out(
        container.uow(),
        container.revocations,
        container.backchannel,
        issuer(),
        current_tenant(),
        session_cookie(),
        Attempt(client_ip(), g.get("request_id"), client_id),
    )
    destination = checked.destination()
    response = redirect(destination, 303) if destination else _page("pages/signed_out.html")
    set_session_cookie(response, "", 0)  # Max-Age=0: the browser drops the cookie
    return response


def _confirm_page(
    checked: LogoutRequest, status: int = 200, message: str | None = None
) -> Response:
    fields = [(name, value) for name, value in vars(checked.params).items() if value is not None]
    # The form's POST ends in a redirect to the client: CSP `form-action` must allow it.
    return render_page(
        "pages/logout_confirm.html",
        status=status,
        form_target=checked.redirect_uri,
        client_name=checked.client.name if checked.client else None,
        fields=fields,
        message=message,
        decision=DECISION,
        sign_out=SIGN_OUT,
        action=f"{issuer()}/logout",
    )


def _page(template: str) -> Response:
    return render_page(template)


def _refused(refused: LogoutRefused) -> Response:
    return render_page(
        "pages/error.html",
        status=400,
        title=N_("Sign-out request refused"),
        message=refused.message,
        request_id=g.get("request_id"),
    )
