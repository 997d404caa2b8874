"""The account page's sessions, connected apps and deletion (issue 9 §6); the page itself is
account.py's."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from idp.context import current_tenant, issuer, services
from idp.http.pages.account import WRONG_CURRENT, account_page, done
from idp.http.pages.account_access import (
    accounts,
    attempt,
    login_throttle,
    sign_in_first,
    signed_in,
)
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok
from idp.http.pages.rendering import FieldError, render_page
from idp.http.pages.routes import FORM_EXPIRED, MAX_FIELD, TOO_MANY
from idp.services.accounts.account_sessions import end_sessions
from idp.services.accounts.connected_apps import revoke_app
from idp.services.accounts.deletion import DeletionNotAllowed, delete_own_account
from idp.services.accounts.password_reset import WrongPassword

bp = tenant_pages("account_security", __name__)


@bp.post("/account/sessions/end")
def end_one() -> Any:
    """End one of the person's sessions (`all_others` set: every one but this browser's)."""
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED)
    others = request.form.get("all_others") == "on"
    container = services()
    end_sessions(
        container.uow(),
        container.revocations,
        container.backchannel,
        issuer(),
        current_tenant(),
        session,
        None if others else request.form.get("sid", "")[:MAX_FIELD],
        attempt(),
    )
    return done("sessions" if others else "session")


@bp.post("/account/apps/revoke")
def revoke() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED)
    container = services()
    revoke_app(
        container.uow(),
        container.revocations,
        current_tenant(),
        session,
        request.form.get("client_id", "")[:MAX_FIELD],
        attempt(),
    )
    return done("app")


def _delete_page(status: int = 200, message: str | None = None, errors: Any = ()) -> Response:
    return render_page(
        "pages/account_delete.html",
        status=status,
        message=message,
        errors=errors,
        action=f"{issuer()}/account/delete",
    )


@bp.get("/account/delete")
def delete_page() -> Any:
    if signed_in() is None:
        return sign_in_first()
    if not current_tenant().account_deletion:
        return render_page("pages/account_delete_closed.html", status=403)
    return _delete_page()


@bp.post("/account/delete")
def delete_submit() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not current_tenant().account_deletion:
        return render_page("pages/account_delete_closed.html", status=403)
    if not csrf_ok():
        return _delete_page(400, FORM_EXPIRED)
    try:
        delete_own_account(
            services().uow(),
            accounts(),
            login_throttle(),
            current_tenant(),
            session,
            request.form.get("password", "")[: MAX_FIELD + 1],
            attempt(),
        )
    except DeletionNotAllowed:  # switched off a moment ago
        return render_page("pages/account_delete_closed.html", status=403)
    except WrongPassword as refused:
        if refused.throttled:
            return _delete_page(429, TOO_MANY)
        return _delete_page(400, errors=[FieldError("password", WRONG_CURRENT)])
    return render_page("pages/account_deleted.html")
