"""Passkeys on the account page (issue 10 §2): the page to add one, and removing one after a
fresh sign-in. The ceremony itself is in passkeys.py."""

from __future__ import annotations

import time
from typing import Any

from flask import g, redirect, request

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.account import done
from idp.http.pages.account_access import sign_in_first, signed_in
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok
from idp.http.pages.rendering import render_page
from idp.http.pages.routes import FORM_EXPIRED
from idp.services.factors.passkey_enrolment import remove_own_passkey
from idp.services.factors.passkeys import CHALLENGE_LIFETIME, list_passkeys
from idp.services.signin.sessions import Attempt, SessionView

bp = tenant_pages("account_passkeys", __name__)

# Adding or removing a passkey needs a sign-in this recent (seconds), as turning two-step
# sign-in off does: a browser left open must not be enough to change how the account is
# entered. The ceremony itself may end a challenge's lifetime later.
FRESH_SIGN_IN = 300


def recently_signed_in(session: SessionView, slack: int = 0) -> bool:
    return time.time() - session.auth_time.timestamp() <= FRESH_SIGN_IN + slack


def registering_allowed(session: SessionView) -> bool:
    """A ceremony started on the page may finish a challenge's lifetime after it was shown."""
    return recently_signed_in(session, CHALLENGE_LIFETIME)


@bp.get("/account/passkeys/new")
def new_page() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not recently_signed_in(session):
        return sign_in_first(fresh=True)
    return render_page("pages/passkey_new.html", base=issuer())


def _named(session: SessionView, passkey_id: int) -> str | None:
    found = list_passkeys(services().uow(), current_tenant().id, session.user_id)
    return next((p.name for p in found if p.id == passkey_id), None)


@bp.get("/account/passkeys/<int:passkey_id>/remove")
def remove_page(passkey_id: int) -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    name = _named(session, passkey_id)
    if name is None:
        return redirect(f"{issuer()}/account", 303)
    if not recently_signed_in(session):
        return sign_in_first(fresh=True)
    return render_page(
        "pages/passkey_remove.html",
        name=name,
        action=f"{issuer()}/account/passkeys/{passkey_id}/remove",
    )


@bp.post("/account/passkeys/<int:passkey_id>/remove")
def remove_submit(passkey_id: int) -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not recently_signed_in(session):
        # After the sign-in the person lands on the confirmation page again: nothing replayed.
        return redirect(f"{issuer()}/account/passkeys/{passkey_id}/remove", 303)
    name = _named(session, passkey_id)
    if name is None:
        return redirect(f"{issuer()}/account", 303)
    if not csrf_ok():
        return render_page(
            "pages/passkey_remove.html",
            status=400,
            message=FORM_EXPIRED,
            name=name,
            action=f"{issuer()}/account/passkeys/{passkey_id}/remove",
        )
    attempt = Attempt(client_ip(), g.get("request_id"), None, request.user_agent.string)
    remove_own_passkey(services().uow(), current_tenant().id, session, passkey_id, attempt)
    return done("passkey_removed")
