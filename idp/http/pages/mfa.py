"""The second factor inside an authorization request, at {issuer}/mfa?txn=... (issue 10 §4).

The authorization endpoint sends a person here when the session's first factor is not enough
(services/factors/policy.py); whichever first factor it was, the way back is the same resume
URL. Someone who must give a second factor but has none enrols one here, and sees their
recovery codes once, before going on to the client.

A request demanding the phishing-resistant acr "3" (policy.demands_passkey) takes only a
passkey here: codes are neither offered nor accepted, not even after a TOTP code. Someone
without a passkey gets a page saying this app requires one, with a link to the account page
to add one, rather than `access_denied` at once: the person can add a passkey and try again,
and the client still hears nothing until they do (or gives up on its own timeout).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, g, redirect, request

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok, session_cookie, set_session_cookie
from idp.http.pages.factor_forms import (
    MAX_CODE_FIELD,
    PASSKEY_ONLY,
    WAIT,
    WRONG_CODE,
    WRONG_FIRST_CODE,
    enrolment_page,
    recovery_codes_page,
    verifier,
)
from idp.http.pages.rendering import FieldError, render_page
from idp.http.pages.routes import FORM_EXPIRED, MAX_FIELD, find_transaction
from idp.oauth.authorize import EXPIRED, PageError, error_page
from idp.services.factors import passkeys, totp
from idp.services.factors.enrolment import confirm_authenticator
from idp.services.factors.policy import MFA, demands_passkey
from idp.services.factors.second_step import CodeRefused, verify_second_factor
from idp.services.signin.authorization import Transaction
from idp.services.signin.sessions import Attempt, SessionView, current_session
from idp.services.tokens.claims import PHISHING_RESISTANT_ACR, acr_meets

bp = tenant_pages("mfa", __name__)


def _resume(transaction: Transaction) -> Response:
    return redirect(f"{issuer()}/authorize/resume?{urlencode({'txn': transaction.id})}", 303)


def _context(txn: str) -> tuple[Transaction, SessionView | None] | Response:
    transaction = find_transaction(txn[:MAX_FIELD])
    if transaction is None:
        return error_page(PageError(EXPIRED))
    return transaction, current_session(
        services().session_lookup, current_tenant(), session_cookie()
    )


def _passkey_demanded(transaction: Transaction) -> bool:
    """Whether the client demands the phishing-resistant acr: only a passkey will do."""
    authz = transaction.request
    return demands_passkey(authz.acr_values, authz.claims.essential_acr)


def _code_page(transaction: Transaction, status: int = 200, message: str | None = None) -> Any:
    """The ways this person can give their second factor: a code, a passkey, or both (only a
    passkey when the client demands one)."""
    passkey_only = _passkey_demanded(transaction)
    if passkey_only and message is None:
        message = PASSKEY_ONLY
    uow, tenant = services().uow(), current_tenant()
    session = current_session(services().session_lookup, tenant, session_cookie())
    user_id = session.user_id if session else 0
    return render_page(
        "pages/mfa.html",
        transaction=transaction,
        status=status,
        message=message,
        txn=transaction.id,
        action=f"{issuer()}/mfa",
        codes=not passkey_only and (session is None or totp.is_enrolled(uow, tenant.id, user_id)),
        passkeys=session is not None and passkeys.has_passkeys(uow, tenant.id, user_id),
        passkey_options=f"{issuer()}/passkeys/options",
        passkey_action=f"{issuer()}/mfa/passkey",
    )


def _enrol_page(
    transaction: Transaction, session: SessionView, status: int = 200, problem: str | None = None
) -> Any:
    errors = (FieldError("code", problem),) if problem else ()
    return enrolment_page(
        session, f"{issuer()}/mfa/enrol", transaction, status=status, errors=errors
    )


@bp.get("/mfa")
def mfa_page() -> Any:
    found = _context(request.args.get("txn", ""))
    if isinstance(found, Response):
        return found
    transaction, session = found
    uow, tenant_id = services().uow(), current_tenant().id
    if session is not None and _passkey_demanded(transaction):
        if acr_meets(session.amr, PHISHING_RESISTANT_ACR):
            return _resume(transaction)
        if passkeys.has_passkeys(uow, tenant_id, session.user_id):
            return _code_page(transaction)
        return render_page(
            "pages/passkey_required.html",
            transaction=transaction,
            account=f"{issuer()}/account",
        )
    if session is None or MFA in session.amr:  # nothing to do here: the flow decides
        return _resume(transaction)
    if totp.is_enrolled(uow, tenant_id, session.user_id) or passkeys.has_passkeys(
        uow, tenant_id, session.user_id
    ):
        return _code_page(transaction)
    return _enrol_page(transaction, session)


@bp.post("/mfa")
def mfa_submit() -> Any:
    found = _context(request.form.get("txn", ""))
    if isinstance(found, Response):
        return found
    transaction, session = found
    if session is None:
        return _resume(transaction)
    if not csrf_ok():
        return _code_page(transaction, 400, FORM_EXPIRED)
    if _passkey_demanded(transaction):  # refused unchecked: not a wrong code, the wrong kind
        return _code_page(transaction, 403, PASSKEY_ONLY)
    attempt = Attempt(client_ip(), g.get("request_id"), transaction.request.client_id)
    try:
        stepped = verify_second_factor(
            services().uow(),
            verifier(),
            current_tenant(),
            session,
            request.form.get("code", "")[:MAX_CODE_FIELD],
            attempt,
        )
    except CodeRefused as refused:
        if refused.wait:
            response = _code_page(transaction, 429, WAIT)
            response.headers["Retry-After"] = str(refused.wait)
            return response
        return _code_page(transaction, 401, WRONG_CODE)
    response = _resume(transaction)
    if stepped is not None:
        set_session_cookie(response, stepped.cookie, stepped.max_age)
    return response


@bp.post("/mfa/enrol")
def enrol_submit() -> Any:
    """The first code of a new authenticator: it is confirmed, counts as this sign-in's second
    factor, and the person's recovery codes are shown once before going on to the client."""
    found = _context(request.form.get("txn", ""))
    if isinstance(found, Response):
        return found
    transaction, session = found
    if session is None:
        return _resume(transaction)
    if not csrf_ok():
        return _enrol_page(transaction, session, 400, FORM_EXPIRED)
    if _passkey_demanded(transaction):  # a new authenticator app would not do either
        return redirect(f"{issuer()}/mfa?{urlencode({'txn': transaction.id})}", 303)
    uow, tenant = services().uow(), current_tenant()
    attempt = Attempt(client_ip(), g.get("request_id"), transaction.request.client_id)
    code = request.form.get("code", "")[:MAX_CODE_FIELD]
    confirmed = confirm_authenticator(uow, services().kek, tenant.id, session, code, attempt)
    if confirmed is None:
        if totp.is_enrolled(uow, tenant.id, session.user_id):  # enrolled meanwhile, elsewhere
            return redirect(f"{issuer()}/mfa?{urlencode({'txn': transaction.id})}", 303)
        return _enrol_page(transaction, session, 400, WRONG_FIRST_CODE)
    next_url = f"{issuer()}/authorize/resume?{urlencode({'txn': transaction.id})}"
    return recovery_codes_page(confirmed.recovery_codes, next_url, transaction, confirmed.session)
