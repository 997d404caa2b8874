"""Hosted pages: each view parses the form, calls one service, then redirects or renders."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, g, redirect, request, send_from_directory
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from idp.context import client_ip, current_tenant, issuer, services, sign_in_service
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import (
    csrf_ok,
    pending_link_cookie,
    session_cookie,
    set_session_cookie,
)
from idp.http.pages.federation_messages import MESSAGES as FEDERATION_MESSAGES
from idp.http.pages.forms import MAX_FIELD
from idp.http.pages.rendering import render_page
from idp.i18n import N_
from idp.oauth.authorize import EXPIRED, PageError, authorization_endpoint, error_page
from idp.oauth.server import oauth_server
from idp.services.accounts.users import get_user
from idp.services.errors import NotFound as UnknownUser
from idp.services.federation.flow import PendingLinks
from idp.services.signin.authorization import Transaction, Transactions
from idp.services.signin.consents import describe_scopes, remember_consent
from idp.services.signin.sessions import (
    Attempt,
    SignedIn,
    SignInRefused,
    current_session,
)
from idp.services.tenancy.providers import ProviderView, enabled_providers

# What the hosted pages load (CSS, the form_post script), kept beside the templates that use it.
STATIC = Path(__file__).resolve().parents[3] / "templates" / "assets"
# Retry-After when a refusal carries no wait of its own (never expected; a safe guess).
RETRY_AFTER_DEFAULT = 60

bp = tenant_pages("pages", __name__)
assets_bp = Blueprint("assets", __name__)


@assets_bp.get("/assets/<name>")
def asset(name: str) -> Response:
    return send_from_directory(STATIC, name, max_age=3600)


@dataclass(frozen=True)
class LoginForm:
    email: str
    password: str
    txn: str

    @classmethod
    def parse(cls, form: MultiDict[str, str]) -> LoginForm:
        return cls(
            email=form.get("email", "")[:MAX_FIELD],
            password=form.get("password", "")[: MAX_FIELD + 1],
            txn=form.get("txn", "")[:MAX_FIELD],
        )


def find_transaction(txn: str) -> Transaction | None:
    return Transactions(services().store).find(current_tenant().id, txn) if txn else None


def _login_page(
    txn: str,
    email: str = "",
    message: str | None = None,
    status: int = 200,
    notice: str | None = None,
    unverified: bool = False,
    retry_minutes: int | None = None,
    transaction: Transaction | None = None,
) -> Any:
    """`unverified`: the right password of an unconfirmed address (tenant policy): the page
    offers a new verification link for it. `retry_minutes`: sign-in waits that long (lockout).
    `transaction`: the one `txn` names, when the caller has read it already (read once)."""
    if transaction is None:
        transaction = find_transaction(txn)
    if not email and transaction is not None:
        email = transaction.request.login_hint or ""  # autoescaped into the value attribute
    providers = enabled_providers(services().provider_lookup, current_tenant())
    return render_page(
        "pages/login.html",
        transaction=transaction,
        status=status,
        image_origins=icon_origins(providers),
        providers=providers,
        federation_base=f"{issuer()}/federation",
        txn=txn,
        email=email,
        message=message,
        notice=notice,
        unverified=unverified,
        retry_minutes=retry_minutes,
        resend_action=f"{issuer()}/email/verify/resend",
        action=f"{issuer()}/login",
        passkey_options=f"{issuer()}/passkeys/options",
        passkey_action=f"{issuer()}/login/passkey",
    )


@bp.get("/login")
def login_page() -> Any:
    # After a confirmed address (pages/signup.py): a fixed message, nothing taken from the URL.
    notice = ADDRESS_CONFIRMED if request.args.get("verified") == "1" else None
    txn = request.args.get("txn", "")[:MAX_FIELD]
    # Back from an upstream provider without a sign-in (pages/federation.py): its fixed message.
    failed = FEDERATION_MESSAGES.get(request.args.get("federation", ""))
    transaction = find_transaction(txn)
    if failed is None:
        hinted = _idp_hint(transaction)
        if hinted is not None:
            return redirect(hinted, 303)
    return _login_page(txn, notice=notice, message=failed, transaction=transaction)


def _idp_hint(transaction: Transaction | None) -> str | None:
    """`idp_hint=<provider slug>` on the authorization request: straight to that enabled
    provider's button; an unknown or disabled one shows the login page as usual. Not after a
    failed round trip (the page then says why), so a failing upstream never loops."""
    hint = transaction.request.idp_hint if transaction is not None else None
    if not hint or transaction is None:
        return None
    slugs = {
        button.slug for button in enabled_providers(services().provider_lookup, current_tenant())
    }
    if hint not in slugs:
        return None
    return f"{issuer()}/federation/{hint}/start?{urlencode({'txn': transaction.id})}"


def icon_origins(providers: list[ProviderView]) -> list[str]:
    """The https origins of the providers' own icons, for the page's CSP img-src (the
    template shows only those: components/federation.html)."""
    return [_origin(p.icon_uri) for p in providers if (p.icon_uri or "").startswith("https://")]


@bp.post("/login")
def login_submit() -> Any:
    form = LoginForm.parse(request.form)
    if not csrf_ok():
        return _login_page(form.txn, form.email, FORM_EXPIRED, 400)
    transaction = find_transaction(form.txn)
    attempt = Attempt(
        client_ip(),
        g.get("request_id"),
        transaction.request.client_id if transaction else None,
        request.user_agent.string,
    )
    try:
        signed_in = sign_in_service().sign_in(
            services().uow(),
            current_tenant(),
            form.email,
            form.password,
            client_ip(),
            session_cookie(),
            attempt,
        )
    except SignInRefused as refused:
        if refused.throttled:
            return _locked_page(form, refused.retry_after or RETRY_AFTER_DEFAULT)
        if refused.unverified:
            return _login_page(form.txn, form.email, CONFIRM_FIRST, 403, unverified=True)
        return _login_page(form.txn, form.email, WRONG_CREDENTIALS, 401)
    return continue_signed_in(transaction, signed_in)


def continue_signed_in(transaction: Transaction | None, signed_in: SignedIn) -> BaseResponse:
    """Where a sign-in by any method leads, with the new session's cookie: on into its
    authorization request as that session, so each later step (another factor, consent)
    applies whatever the method, with no round trip through `/authorize/resume`; to a link
    waiting for its owner's proof; or the signed-in page when no request brought the person."""
    link = pending_link(transaction)
    if link is not None:
        response: BaseResponse = redirect(link, 303)
    elif transaction is None:
        response = render_page("pages/signed_in.html")
    else:
        chosen = _signing_in_chose_the_account(transaction)
        response = authorization_endpoint.resume_as(signed_in.session, chosen)
    set_session_cookie(response, signed_in.cookie, signed_in.max_age)
    return response


def resume_after_sign_in(transaction: Transaction | None) -> str | None:
    """The URL a sign-in continues at (None: no request brought the person), for the passkey
    script, which navigates there itself, and the link page once the link is settled."""
    link = pending_link(transaction)
    if link is not None or transaction is None:
        return link
    _signing_in_chose_the_account(transaction)
    return f"{issuer()}/authorize/resume?{urlencode({'txn': transaction.id})}"


def pending_link(transaction: Transaction | None) -> str | None:
    """The link page when an upstream identity waits for its owner's proof
    (pages/federation_link.py): this sign-in, by whatever method, may be it; that page decides
    and then resumes."""
    if PendingLinks(services().store).find(current_tenant().id, pending_link_cookie()):
        return pending_link_page(transaction.id if transaction else "")
    return None


def _signing_in_chose_the_account(transaction: Transaction) -> Transaction:
    """Signing in is choosing the account: no chooser after it (OIDC Core §3.1.2.1). The
    transaction as it now stands."""
    if "select_account" in transaction.request.prompt and not transaction.account_chosen:
        return Transactions(services().store).choose_account(
            current_tenant().id, transaction, another=False
        )
    return transaction


def pending_link_page(txn: str) -> str:
    """Where a link waiting for its owner's proof is proved and confirmed (federation_link.py)."""
    query = f"?{urlencode({'txn': txn})}" if txn else ""
    return f"{issuer()}/federation/link{query}"


def _locked_page(form: LoginForm, retry_after: int) -> Response:
    """429 with the wait (RFC 6585 §4, RFC 9110 §10.2.3), in minutes on the page. The same for
    an address without an account: the wait reveals nothing."""
    response: Response = _login_page(
        form.txn, form.email, status=429, retry_minutes=math.ceil(retry_after / 60)
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _consent_page(transaction: Transaction, status: int = 200, message: str | None = None) -> Any:
    client = oauth_server().query_client(transaction.request.client_id)
    name = client.view.name if client else transaction.request.client_id
    logo = client.view.logo_uri if client else None
    # Only an https logo is shown: an http one would be mixed content under our https pages,
    # and CSP img-src opens to that one origin alone.
    logo_origin = _origin(logo) if logo and logo.startswith("https://") else None
    return render_page(
        "pages/consent.html",
        transaction=transaction,
        status=status,
        image_origins=[logo_origin] if logo_origin else [],
        txn=transaction.id,
        client_name=name,
        logo_uri=logo if logo_origin else None,
        message=message,
        scopes=describe_scopes(transaction.request.scopes),
        action=f"{issuer()}/consent",
    )


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


@bp.get("/consent")
def consent_page() -> Any:
    transaction = find_transaction(request.args.get("txn", "")[:MAX_FIELD])
    if transaction is None:
        return error_page(PageError(EXPIRED))
    if current_session(services().session_lookup, current_tenant(), session_cookie()) is None:
        return redirect(f"{issuer()}/login?{urlencode({'txn': transaction.id})}", 303)
    return _consent_page(transaction)


@bp.post("/consent")
def consent_submit() -> Any:
    transaction = find_transaction(request.form.get("txn", "")[:MAX_FIELD])
    if transaction is None:
        return error_page(PageError(EXPIRED))
    if not csrf_ok():
        return _consent_page(transaction, 400, FORM_EXPIRED)
    tenant = current_tenant()
    session = current_session(services().session_lookup, tenant, session_cookie())
    if session is None:
        return redirect(f"{issuer()}/login?{urlencode({'txn': transaction.id})}", 303)
    if request.form.get("decision") != "allow":
        return authorization_endpoint.deny(transaction)
    if request.form.get("remember") == "on":
        remember_consent(
            services().uow(),
            tenant.id,
            session.user_id,
            transaction.request.client_id,
            list(transaction.request.scopes),
        )
    consented = Transactions(services().store).consented(tenant.id, transaction, session.sid)
    return authorization_endpoint.resume_as(session, consented)


def _select_account_page(
    transaction: Transaction, email: str, status: int = 200, message: str | None = None
) -> Any:
    client = oauth_server().query_client(transaction.request.client_id)
    return render_page(
        "pages/select_account.html",
        transaction=transaction,
        status=status,
        txn=transaction.id,
        email=email,
        client_name=client.view.name if client else transaction.request.client_id,
        message=message,
        action=f"{issuer()}/select_account",
    )


def _signed_in_email(session_user: str) -> str | None:
    try:
        return get_user(services().uow(), current_tenant(), session_user).email
    except UnknownUser:
        return None


@bp.get("/select_account")
def select_account_page() -> Any:
    """prompt=select_account (OIDC Core §3.1.2.1): go on as the signed-in person, or sign in
    as someone else; without a session the login page is the chooser."""
    transaction = find_transaction(request.args.get("txn", "")[:MAX_FIELD])
    if transaction is None:
        return error_page(PageError(EXPIRED))
    session = current_session(services().session_lookup, current_tenant(), session_cookie())
    email = _signed_in_email(session.subject) if session else None
    if email is None:
        return redirect(f"{issuer()}/login?{urlencode({'txn': transaction.id})}", 303)
    return _select_account_page(transaction, email)


@bp.post("/select_account")
def select_account_submit() -> Any:
    transaction = find_transaction(request.form.get("txn", "")[:MAX_FIELD])
    if transaction is None:
        return error_page(PageError(EXPIRED))
    session = current_session(services().session_lookup, current_tenant(), session_cookie())
    email = _signed_in_email(session.subject) if session else None
    if email is None:  # signed out meanwhile: signing in is choosing
        return redirect(f"{issuer()}/login?{urlencode({'txn': transaction.id})}", 303)
    if not csrf_ok():
        return _select_account_page(transaction, email, 400, FORM_EXPIRED)
    another = request.form.get("account") != "current"
    Transactions(services().store).choose_account(current_tenant().id, transaction, another)
    return redirect(f"{issuer()}/authorize/resume?{urlencode({'txn': transaction.id})}", 303)


FORM_EXPIRED = N_("This form has expired. Please try again.")
WRONG_CREDENTIALS = N_("The e-mail address or password is not right.")
TOO_MANY = N_("Too many attempts. Please wait a few minutes and try again.")
ADDRESS_CONFIRMED = N_("Your e-mail address is confirmed. Sign in to continue.")
CONFIRM_FIRST = N_(
    "Please confirm your e-mail address first: open the link we sent you, or ask for a new one."
)
