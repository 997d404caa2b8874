"""Sign-in by a mailed link or code (issue 10 §3): the pages of services/signin/magic_links.py,
whose docstring explains why the link and the code work only in the browser that asked.

- `{issuer}/magic`: the address form; the same redirect for every address, and the browser's
  binding cookie set either way;
- `{issuer}/magic/code`: "check your mail", and the code typed in the browser that asked;
- `{issuer}/magic/link?token=`: in the browser that asked, signs in and goes on to the client;
  anywhere else (another browser, a scanner's GET or HEAD), a page with a button whose POST
  shows the code to type in the first browser. Nothing is spent there.

Each page answers a friendly 404 unless the tenant lists `magic_link` in `sign_in_methods`
(and the login page offers no link then: rendering.page_links). Link pages send no Referer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, g, redirect, request
from werkzeug.wrappers import Response

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import (
    clear_magic_browser_cookie,
    csrf_ok,
    magic_browser_cookie,
    session_cookie,
    set_magic_browser_cookie,
)
from idp.http.pages.forms import form_field, no_referrer
from idp.http.pages.rendering import FieldError, render_page
from idp.http.pages.routes import (
    FORM_EXPIRED,
    MAX_FIELD,
    TOO_MANY,
    continue_signed_in,
    find_transaction,
)
from idp.i18n import N_
from idp.services.errors import InvalidInput
from idp.services.signin.authorization import Transaction
from idp.services.signin.magic_links import (
    LIFETIME,
    METHOD,
    CodeRefused,
    LinkGone,
    MagicLinks,
    MagicSignIn,
    MagicThrottle,
    MagicThrottled,
    OtherBrowser,
)
from idp.services.signin.sessions import Attempt

bp = tenant_pages("magic", __name__)

WRONG_CODE = N_("This code is not right. Check the latest mail we sent you and try again.")
CODE_VOID = N_("This code no longer works. Please ask for a new one.")


def _magic_links() -> MagicLinks:
    container = services()
    return current_app.extensions.setdefault(  # type: ignore[no-any-return]
        "idp.magic_links",
        MagicLinks(
            container.store,
            container.mailer,
            MagicThrottle(container.store, container.settings.rate_limits),
            container.lockout(),
            container.usage,
        ),
    )


def _enabled() -> bool:
    return METHOD in current_tenant().sign_in_methods


def _unavailable() -> Response:
    return render_page("pages/magic_unavailable.html", status=404)


def _attempt(transaction: Transaction | None) -> Attempt:
    client_id = transaction.request.client_id if transaction else None
    return Attempt(client_ip(), g.get("request_id"), client_id, request.user_agent.string)


def _signed_in(outcome: MagicSignIn) -> Response:
    response = continue_signed_in(find_transaction(outcome.txn), outcome.signed_in)
    clear_magic_browser_cookie(response)
    return no_referrer(response)


def _request_page(
    txn: str, email: str = "", status: int = 200, message: str | None = None, errors: Any = ()
) -> Response:
    transaction = find_transaction(txn)
    if not email and transaction is not None:
        email = transaction.request.login_hint or ""
    return render_page(
        "pages/magic_request.html",
        transaction=transaction,
        status=status,
        errors=errors,
        txn=txn,
        email=email,
        message=message,
        action=f"{issuer()}/magic",
    )


@bp.get("/magic")
def request_page() -> Response:
    if not _enabled():
        return _unavailable()
    return _request_page(request.args.get("txn", "")[:MAX_FIELD])


@bp.post("/magic")
def request_submit() -> Any:
    if not _enabled():
        return _unavailable()
    txn, email = form_field("txn"), form_field("email")
    if not csrf_ok():
        return _request_page(txn, email, 400, FORM_EXPIRED)
    transaction = find_transaction(txn)
    try:
        browser = _magic_links().request(
            services().uow(),
            current_tenant(),
            email,
            transaction.id if transaction else "",
            _attempt(transaction),
        )
    except InvalidInput as error:
        return _request_page(txn, email, 400, errors=FieldError.all_of(error))
    except MagicThrottled as throttled:
        response = _request_page(txn, email, 429, TOO_MANY)
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    # The same answer for every address (DESIGN §7): the address is not even repeated.
    query = f"?{urlencode({'txn': transaction.id})}" if transaction else ""
    response = redirect(f"{issuer()}/magic/code{query}", 303)
    set_magic_browser_cookie(response, browser, LIFETIME)
    return response


def _code_page(
    txn: str, status: int = 200, message: str | None = None, errors: Any = ()
) -> Response:
    return render_page(
        "pages/magic_code.html",
        transaction=find_transaction(txn),
        status=status,
        errors=errors,
        txn=txn,
        message=message,
        again=f"{issuer()}/magic" + (f"?{urlencode({'txn': txn})}" if txn else ""),
        action=f"{issuer()}/magic/code",
    )


@bp.get("/magic/code")
def code_page() -> Response:
    if not _enabled():
        return _unavailable()
    return _code_page(request.args.get("txn", "")[:MAX_FIELD])


@bp.post("/magic/code")
def code_submit() -> Response:
    if not _enabled():
        return _unavailable()
    txn = form_field("txn")
    if not csrf_ok():
        return _code_page(txn, 400, FORM_EXPIRED)
    try:
        outcome = _magic_links().sign_in_by_code(
            services().uow(),
            current_tenant(),
            form_field("code"),
            magic_browser_cookie(),
            session_cookie(),
            _attempt(find_transaction(txn)),
        )
    except CodeRefused as refused:
        if refused.tries_left == 0:
            return _code_page(txn, 400, CODE_VOID)
        return _code_page(txn, 400, errors=[FieldError("code", WRONG_CODE)])
    except MagicThrottled as throttled:
        response = _code_page(txn, 429, TOO_MANY)
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    return _signed_in(outcome)


def _link_gone() -> Response:
    return no_referrer(render_page("pages/magic_link_gone.html", status=400))


def _confirm_page(token: str, status: int = 200, message: str | None = None) -> Response:
    return no_referrer(
        render_page(
            "pages/magic_confirm.html",
            status=status,
            token=token,
            message=message,
            action=f"{issuer()}/magic/link",
        )
    )


@bp.get("/magic/link")
def link_page() -> Response:
    """Also answers HEAD (Flask runs the GET view): a scanner's HEAD spends nothing either."""
    if not _enabled():
        return _unavailable()
    token = request.args.get("token", "")[:MAX_FIELD]
    try:
        outcome = _magic_links().sign_in_by_link(
            services().uow(),
            current_tenant(),
            token,
            magic_browser_cookie(),
            session_cookie(),
            _attempt(None),
        )
    except LinkGone:
        return _link_gone()
    except OtherBrowser:
        return _confirm_page(token)
    return _signed_in(outcome)


@bp.post("/magic/link")
def link_confirm() -> Response:
    """The other browser's confirm: shows the code, signs nobody in (see the module)."""
    if not _enabled():
        return _unavailable()
    token = form_field("token")
    if not csrf_ok():
        return _confirm_page(token, 400, FORM_EXPIRED)
    try:
        code = _magic_links().code_for_link(services().uow(), current_tenant(), token)
    except LinkGone:
        return _link_gone()
    return no_referrer(render_page("pages/magic_code_shown.html", code=code))
