"""Passkey ceremonies of the hosted pages (issue 10 §2), called by templates/assets/passkeys.js.

Every endpoint takes a form-encoded POST with the page's CSRF token and answers JSON: the
options for the browser, or where to go next, or `{"error": ...}` with a friendly, translated
message and a 4xx status (never a 500 for anything a browser or a forger can send). The
ceremony's handle lives in a short-lived HttpOnly cookie, so a challenge serves only the
browser it was made for, and only for its purpose (services/factors/passkeys.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, g, jsonify, request

from idp.context import client_ip, current_tenant, issuer, services, sign_in_start_wait
from idp.http.pages.account_access import login_throttle, signed_in
from idp.http.pages.account_passkeys import registering_allowed
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import (
    clear_passkey_ceremony_cookie,
    csrf_ok,
    passkey_ceremony_cookie,
    session_cookie,
    set_passkey_ceremony_cookie,
    set_session_cookie,
)
from idp.http.pages.factor_forms import verifier
from idp.http.pages.routes import (
    FORM_EXPIRED,
    MAX_FIELD,
    TOO_MANY,
    find_transaction,
    resume_after_sign_in,
)
from idp.i18n import N_, gettext
from idp.services.accounts.users import get_user
from idp.services.factors import passkeys
from idp.services.factors.passkey_enrolment import add_passkey
from idp.services.factors.passkey_use import (
    PasskeyCeremony,
    Throttled,
    second_factor_with_passkey,
    sign_in_with_passkey,
)
from idp.services.factors.policy import demands_passkey
from idp.services.signin.sessions import Attempt, SessionView, current_session

bp = tenant_pages("passkeys", __name__)

REFUSED = N_("That passkey could not be used here. Try again, or use another way to sign in.")
NOT_ADDED = N_("The passkey could not be added. Try again.")
SIGN_IN_AGAIN = N_("Please sign in again, then try once more.")
PURPOSES = ("register", "sign_in", "second")


def relying_party() -> passkeys.RelyingParty:
    tenant = current_tenant()
    public_url = services().settings.server.public_url
    return passkeys.RelyingParty.of(
        public_url, tenant.passkeys_rp_id, tenant.display_name or tenant.name
    )


def _problem(message: str, status: int = 400) -> Response:
    response = jsonify(error=gettext(message))
    response.status_code = status
    return response


def _session() -> SessionView | None:
    return current_session(services().session_lookup, current_tenant(), session_cookie())


def _bound_to(purpose: str, txn: str) -> tuple[str, SessionView | None] | None:
    """What the challenge is bound to, and the session it is for; None: not allowed now."""
    if purpose == "sign_in":
        return f"sign_in:{txn}", None
    session = signed_in() if purpose == "register" else _session()
    if session is None or (purpose == "register" and not registering_allowed(session)):
        return None
    return f"{purpose}:{session.sid}", session


def _passkey_demanded(txn: str) -> bool:
    """Whether the authorization request `txn` demands the phishing-resistant acr "3", which
    only a passkey with user verification meets: then the browser is told to verify."""
    transaction = find_transaction(txn) if txn else None
    if transaction is None:
        return False
    authz = transaction.request
    return demands_passkey(authz.acr_values, authz.claims.essential_acr)


@bp.post("/passkeys/options")
def options() -> Any:
    purpose = request.form.get("purpose", "")
    txn = request.form.get("txn", "")[:MAX_FIELD]
    if purpose not in PURPOSES or not csrf_ok():
        return _problem(FORM_EXPIRED)
    bound = _bound_to(purpose, txn)
    if bound is None:
        return _problem(SIGN_IN_AGAIN, 401)
    binding, session = bound
    wait = sign_in_start_wait()
    if wait:
        response = _problem(TOO_MANY, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    tenant, rp, uow = current_tenant(), relying_party(), services().uow()
    handle, challenge = passkeys.Challenges(services().store).issue(tenant.id, binding)
    if purpose == "register" and session is not None:
        label = get_user(uow, tenant, session.subject).email
        body = passkeys.registration_options(uow, rp, tenant.id, session.user_id, label, challenge)
    else:
        user_id = session.user_id if session is not None else None
        body = passkeys.authentication_options(
            uow, rp, tenant.id, user_id, challenge, _passkey_demanded(txn)
        )
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    set_passkey_ceremony_cookie(response, handle, passkeys.CHALLENGE_LIFETIME)
    return response


def _ceremony(binding: str) -> PasskeyCeremony:
    """The challenge this browser was given for `binding`, taken once; PasskeyRefused."""
    challenge = passkeys.Challenges(services().store).take(
        current_tenant().id, passkey_ceremony_cookie(), binding
    )
    credential = request.form.get("credential", "")
    return PasskeyCeremony(relying_party(), challenge, credential)


def _attempt(txn: str = "") -> Attempt:
    transaction = find_transaction(txn) if txn else None
    return Attempt(
        client_ip(),
        g.get("request_id"),
        transaction.request.client_id if transaction else None,
        request.user_agent.string,
    )


def _go(url: str) -> Response:
    response = jsonify(redirect=url)
    clear_passkey_ceremony_cookie(response)
    return response


@bp.post("/account/passkeys")
def register() -> Any:
    session = signed_in()
    if session is None or not registering_allowed(session):
        return _problem(SIGN_IN_AGAIN, 401)
    if not csrf_ok():
        return _problem(FORM_EXPIRED)
    try:
        ceremony = _ceremony(f"register:{session.sid}")
        stepped = add_passkey(
            services().uow(),
            ceremony,
            current_tenant().id,
            session,
            request.form.get("name", "")[:MAX_FIELD],
            _attempt(),
        )
    except passkeys.PasskeyRefused:
        return _problem(NOT_ADDED)
    response = _go(f"{issuer()}/account?done=passkey")
    if stepped is not None:
        set_session_cookie(response, stepped.cookie, stepped.max_age)
    return response


@bp.post("/login/passkey")
def sign_in() -> Any:
    """Passwordless: the passkey names its owner; then on with the authorization request."""
    txn = request.form.get("txn", "")[:MAX_FIELD]
    if not csrf_ok():
        return _problem(FORM_EXPIRED)
    transaction = find_transaction(txn)
    try:
        signed = sign_in_with_passkey(
            services().uow(),
            current_tenant(),
            _ceremony(f"sign_in:{txn}"),
            login_throttle(),
            session_cookie(),
            _attempt(txn),
        )
    except Throttled:
        return _problem(TOO_MANY, 429)
    except passkeys.PasskeyRefused:
        return _problem(REFUSED)
    response = _go(resume_after_sign_in(transaction) or f"{issuer()}/account")
    set_session_cookie(response, signed.cookie, signed.max_age)
    return response


@bp.post("/mfa/passkey")
def second_factor() -> Any:
    """The passkey as the second factor after a password, on the /mfa step."""
    txn = request.form.get("txn", "")[:MAX_FIELD]
    session = _session()
    transaction = find_transaction(txn)
    if session is None or transaction is None:
        return _problem(SIGN_IN_AGAIN, 401)
    if not csrf_ok():
        return _problem(FORM_EXPIRED)
    try:
        stepped = second_factor_with_passkey(
            services().uow(),
            current_tenant(),
            _ceremony(f"second:{session.sid}"),
            verifier(),
            session,
            _attempt(txn),
        )
    except Throttled:
        return _problem(TOO_MANY, 429)
    except passkeys.PasskeyRefused:
        return _problem(REFUSED)
    response = _go(f"{issuer()}/authorize/resume?{urlencode({'txn': transaction.id})}")
    if stepped is not None:
        set_session_cookie(response, stepped.cookie, stepped.max_age)
    return response
