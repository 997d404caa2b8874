"""Password pages (issue 9 §4, §5): forgot, reset through the mailed link, change when signed in.

The authorization request that brought the person (`txn`) goes along the whole way, in the form
and in the link, so a reset ends at the login page of that request and then at its client
(DESIGN §13). The reset token is in the page's URL and form: those pages send no Referer.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.account_access import accounts, sign_in_first, signed_in
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok
from idp.http.pages.forms import PASSWORD_LIMIT, form_field, no_referrer
from idp.http.pages.rendering import FieldError, render_page
from idp.http.pages.routes import FORM_EXPIRED, MAX_FIELD, TOO_MANY, find_transaction
from idp.i18n import N_
from idp.services.accounts import password_reset as reset_service
from idp.services.accounts.password_reset import (
    Attempt,
    LinkGone,
    ResetThrottle,
    ResetThrottled,
    WrongPassword,
)
from idp.services.errors import InvalidInput

bp = tenant_pages("password", __name__)

PASSWORDS_DIFFER = N_("The two passwords are not the same.")
WRONG_CURRENT = N_("Your current password is not right.")


def _reset_throttle() -> ResetThrottle:
    container = services()
    return current_app.extensions.setdefault(  # type: ignore[no-any-return]
        "idp.reset_throttle", ResetThrottle(container.store, container.settings.rate_limits)
    )


def _attempt(txn: str = "") -> Attempt:
    return Attempt(client_ip(), g.get("request_id"), txn)


def _forgot_page(
    txn: str, email: str = "", status: int = 200, message: str | None = None, errors: Any = ()
) -> Response:
    return render_page(
        "pages/password_forgot.html",
        transaction=find_transaction(txn),
        status=status,
        errors=errors,
        txn=txn,
        email=email,
        message=message,
        action=f"{issuer()}/password/forgot",
    )


@bp.get("/password/forgot")
def forgot_page() -> Response:
    return _forgot_page(request.args.get("txn", "")[:MAX_FIELD])


@bp.post("/password/forgot")
def forgot_submit() -> Response:
    txn, email = form_field("txn"), form_field("email")
    if not csrf_ok():
        return _forgot_page(txn, email, 400, FORM_EXPIRED)
    try:
        reset_service.request_reset(
            services().uow(),
            services().mailer,
            _reset_throttle(),
            current_tenant(),
            email,
            _attempt(txn),
        )
    except InvalidInput as error:
        return _forgot_page(txn, email, 400, errors=FieldError.all_of(error))
    except ResetThrottled as throttled:
        response = _forgot_page(txn, email, 429, TOO_MANY)
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    # The same page for every address (DESIGN §7): the address is not even repeated.
    return render_page("pages/password_sent.html", transaction=find_transaction(txn))


def _reset_page(
    token: str, txn: str, status: int = 200, message: str | None = None, errors: Any = ()
) -> Response:
    return no_referrer(
        render_page(
            "pages/password_reset.html",
            transaction=find_transaction(txn),
            status=status,
            errors=errors,
            token=token,
            message=message,
            action=f"{issuer()}/password/reset",
        )
    )


def _link_gone() -> Response:
    return no_referrer(render_page("pages/password_link_gone.html", status=400))


@bp.get("/password/reset")
def reset_page() -> Response:
    token = request.args.get("token", "")[:MAX_FIELD]
    txn = reset_service.reset_link_txn(services().uow(), current_tenant(), token)
    if txn is None:
        return _link_gone()
    return _reset_page(token, txn)


@bp.post("/password/reset")
def reset_submit() -> Response:
    token = form_field("token")
    password, confirm = (
        form_field("password", PASSWORD_LIMIT),
        form_field("password_confirm", PASSWORD_LIMIT),
    )
    txn = reset_service.reset_link_txn(services().uow(), current_tenant(), token)
    if txn is None:
        return _link_gone()
    if not csrf_ok():
        return _reset_page(token, txn, 400, FORM_EXPIRED)
    if password != confirm:
        return _reset_page(
            token, txn, 400, errors=[FieldError("password_confirm", PASSWORDS_DIFFER)]
        )
    try:
        txn = reset_service.complete_reset(
            services().uow(), accounts(), current_tenant(), token, password, _attempt(txn)
        )
    except InvalidInput as error:
        return _reset_page(token, txn, 400, errors=FieldError.all_of(error))
    except LinkGone:
        return _link_gone()
    return no_referrer(
        render_page("pages/password_reset_done.html", transaction=find_transaction(txn))
    )


def _change_page(status: int = 200, message: str | None = None, errors: Any = ()) -> Response:
    return render_page(
        "pages/password_change.html",
        status=status,
        errors=errors,
        message=message,
        action=f"{issuer()}/account/password",
    )


@bp.get("/account/password")
def change_page() -> Any:
    if signed_in() is None:
        return sign_in_first()
    return _change_page()


@bp.post("/account/password")
def change_submit() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not csrf_ok():
        return _change_page(400, FORM_EXPIRED)
    password, confirm = (
        form_field("password", PASSWORD_LIMIT),
        form_field("password_confirm", PASSWORD_LIMIT),
    )
    if password != confirm:
        return _change_page(400, errors=[FieldError("password_confirm", PASSWORDS_DIFFER)])
    container = services()
    try:
        reset_service.change_password(
            container.uow(),
            accounts(),
            container.lockout(),
            current_tenant(),
            session,
            form_field("current_password", PASSWORD_LIMIT),
            password,
            _attempt(),
        )
    except WrongPassword as refused:
        if refused.throttled:
            return _change_page(429, TOO_MANY)
        return _change_page(400, errors=[FieldError("current_password", WRONG_CURRENT)])
    except InvalidInput as error:
        return _change_page(400, errors=FieldError.all_of(error))
    return render_page("pages/password_changed.html")
