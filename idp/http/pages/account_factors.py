"""Two-step sign-in on the account page (issue 10 §1): set up an authenticator app, see new
recovery codes once, switch it off after a fresh sign-in."""

from __future__ import annotations

import time
from typing import Any

from flask import g, redirect, request

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.account import account_page, done
from idp.http.pages.account_access import sign_in_first, signed_in
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok
from idp.http.pages.factor_forms import (
    MAX_CODE_FIELD,
    WRONG_FIRST_CODE,
    enrolment_page,
    recovery_codes_page,
)
from idp.http.pages.rendering import FieldError, render_page
from idp.http.pages.routes import FORM_EXPIRED
from idp.services.factors import totp
from idp.services.factors.enrolment import confirm_authenticator, regenerate_codes, switch_off
from idp.services.signin.sessions import Attempt, SessionView

bp = tenant_pages("account_factors", __name__)

# Switching two-step sign-in off needs a sign-in this recent (seconds): a browser left open
# must not be enough to remove the factor that protects the account.
FRESH_SIGN_IN = 300


def _attempt() -> Attempt:
    return Attempt(client_ip(), g.get("request_id"))


def _enrolled(session: SessionView) -> bool:
    return totp.is_enrolled(services().uow(), current_tenant().id, session.user_id)


def _enrol_page(session: SessionView, status: int = 200, problem: str | None = None) -> Any:
    errors = (FieldError("code", problem),) if problem else ()
    return enrolment_page(
        session,
        f"{issuer()}/account/totp",
        status=status,
        errors=errors,
        back=f"{issuer()}/account",
    )


@bp.get("/account/totp")
def enrol_page() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if _enrolled(session):
        return redirect(f"{issuer()}/account", 303)
    return _enrol_page(session)


@bp.post("/account/totp")
def enrol_submit() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if _enrolled(session):
        return redirect(f"{issuer()}/account", 303)
    if not csrf_ok():
        return _enrol_page(session, 400, FORM_EXPIRED)
    code = request.form.get("code", "")[:MAX_CODE_FIELD]
    container, tenant = services(), current_tenant()
    confirmed = confirm_authenticator(
        container.uow(), container.kek, tenant.id, session, code, _attempt()
    )
    if confirmed is None:
        return _enrol_page(session, 400, WRONG_FIRST_CODE)
    return recovery_codes_page(
        confirmed.recovery_codes, f"{issuer()}/account?done=totp", stepped=confirmed.session
    )


@bp.post("/account/recovery-codes")
def regenerate() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED)
    if not _enrolled(session):
        return redirect(f"{issuer()}/account", 303)
    codes = regenerate_codes(services().uow(), current_tenant().id, session, _attempt())
    return recovery_codes_page(codes, f"{issuer()}/account?done=codes")


def _fresh(session: SessionView) -> bool:
    return time.time() - session.auth_time.timestamp() <= FRESH_SIGN_IN


@bp.get("/account/totp/remove")
def remove_page() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not _enrolled(session):
        return redirect(f"{issuer()}/account", 303)
    if not _fresh(session):
        return sign_in_first(fresh=True)
    return render_page("pages/totp_remove.html", action=f"{issuer()}/account/totp/remove")


@bp.post("/account/totp/remove")
def remove_submit() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not _fresh(session):
        # After the sign-in the person lands on the confirmation page again: nothing replayed.
        return redirect(f"{issuer()}/account/totp/remove", 303)
    if not csrf_ok():
        return render_page(
            "pages/totp_remove.html",
            status=400,
            message=FORM_EXPIRED,
            action=f"{issuer()}/account/totp/remove",
        )
    switch_off(services().uow(), current_tenant().id, session, _attempt())
    return done("totp_removed")
