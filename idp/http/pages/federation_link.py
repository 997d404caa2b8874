"""A link that may not be made automatically (services/federation/linking.py LinkProofNeeded):
the person first proves the account the upstream's address names, then confirms the link.

- `GET {issuer}/federation/link`: without a session, the proof page (the account's password
  here, or any other way in through the login page: a passkey, a mailed link, another provider
  already linked to it; routes.pending_link brings every sign-in back here while a link
  waits, and "forgot your password" mails a reset link); with a session of that account, the
  confirmation page; with someone else's, the pending link is dropped and their sign-in goes on;
- `POST {issuer}/federation/link/proof`: the password, through the same sign-in (and lockout)
  as the login page;
- `POST {issuer}/federation/link`: "Connect" writes the link, "Not now" drops it; either way
  the authorization request resumes as that person, so the MFA policy and consent still run.

The pending link lives in the short-lived store behind an HttpOnly cookie of the browser that
came back from the upstream (services/federation/flow.py): nobody else can confirm it, and
nothing is linked until the account's owner said so.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, request
from werkzeug.wrappers import Response

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import (
    clear_pending_link_cookie,
    csrf_ok,
    pending_link_cookie,
    session_cookie,
    set_session_cookie,
)
from idp.http.pages.federation import back_to_login
from idp.http.pages.federation_messages import TAKEN
from idp.http.pages.forms import MAX_FIELD, PASSWORD_LIMIT, form_field, no_referrer
from idp.http.pages.rendering import render_page
from idp.http.pages.routes import (
    CONFIRM_FIRST,
    FORM_EXPIRED,
    RETRY_AFTER_DEFAULT,
    TOO_MANY,
    find_transaction,
    pending_link_page,
    resume_after_sign_in,
    sign_in_service,
)
from idp.i18n import N_
from idp.services.errors import NotFound
from idp.services.federation.flow import PendingLink, PendingLinks
from idp.services.federation.linking import IdentityTaken, link_identity
from idp.services.signin.sessions import Attempt, SignInRefused, current_session
from idp.services.tenancy.providers import enabled_providers, get_provider

bp = tenant_pages("federation_link", __name__)

WRONG_PASSWORD = N_("This password is not right.")


def _pending() -> PendingLink | None:
    return PendingLinks(services().store).find(current_tenant().id, pending_link_cookie())


def _attempt(pending: PendingLink) -> Attempt:
    transaction = find_transaction(pending.txn)
    client_id = transaction.request.client_id if transaction else None
    return Attempt(client_ip(), g.get("request_id"), client_id, request.user_agent.string)


def _provider_name(slug: str) -> str:
    try:
        return get_provider(services().uow(), current_tenant(), slug).display_name
    except NotFound:
        return slug


def _proof_page(pending: PendingLink, status: int = 200, message: str | None = None) -> Response:
    others = [
        button
        for button in enabled_providers(services().provider_lookup, current_tenant())
        if button.slug != pending.provider
    ]
    return no_referrer(
        render_page(
            "pages/federation_link_proof.html",
            transaction=find_transaction(pending.txn),
            status=status,
            message=message,
            provider_name=_provider_name(pending.provider),
            email=pending.email,
            txn=pending.txn,
            providers=others,
            federation_base=f"{issuer()}/federation",
            action=f"{issuer()}/federation/link/proof",
        )
    )


def _confirm_page(pending: PendingLink, status: int = 200, message: str | None = None) -> Response:
    return no_referrer(
        render_page(
            "pages/federation_link_confirm.html",
            transaction=find_transaction(pending.txn),
            status=status,
            message=message,
            provider_name=_provider_name(pending.provider),
            upstream_email=pending.identity.email,
            email=pending.email,
            action=f"{issuer()}/federation/link",
        )
    )


def _owner_signed_in(pending: PendingLink) -> bool:
    session = current_session(services().session_lookup, current_tenant(), session_cookie())
    return session is not None and session.user_id == pending.user_id


@bp.get("/federation/link")
def link_page() -> Response:
    pending = _pending()
    if pending is None:
        return back_to_login(request.args.get("txn", "")[:MAX_FIELD], "expired")
    session = current_session(services().session_lookup, current_tenant(), session_cookie())
    if session is None:
        return _proof_page(pending)
    if session.user_id == pending.user_id:
        return _confirm_page(pending)
    # Someone else signed in meanwhile ("sign in another way" as another account): the pending
    # link is not theirs to confirm; it is dropped and their sign-in goes on.
    PendingLinks(services().store).take(current_tenant().id, pending_link_cookie())
    return _resume(pending.txn)


def _resume(txn: str) -> Response:
    """On with the authorization request as the signed-in person (after the pending link was
    spent, so routes.pending_link no longer points here)."""
    resume = resume_after_sign_in(find_transaction(txn))
    response = redirect(resume, 303) if resume else render_page("pages/signed_in.html")
    clear_pending_link_cookie(response)
    return no_referrer(response)


@bp.post("/federation/link/proof")
def proof_submit() -> Response:
    pending = _pending()
    if pending is None:
        return back_to_login("", "expired")
    if not csrf_ok():
        return _proof_page(pending, 400, FORM_EXPIRED)
    try:
        signed_in = sign_in_service().sign_in(
            services().uow(),
            current_tenant(),
            pending.email,
            form_field("password", PASSWORD_LIMIT),
            client_ip(),
            session_cookie(),
            _attempt(pending),
        )
    except SignInRefused as refused:
        if refused.throttled:
            response = _proof_page(pending, 429, TOO_MANY)
            response.headers["Retry-After"] = str(refused.retry_after or RETRY_AFTER_DEFAULT)
            return response
        if refused.unverified:
            return _proof_page(pending, 403, CONFIRM_FIRST)
        return _proof_page(pending, 401, WRONG_PASSWORD)
    response = redirect(pending_link_page(pending.txn), 303)
    set_session_cookie(response, signed_in.cookie, signed_in.max_age)
    return no_referrer(response)


@bp.post("/federation/link")
def confirm_submit() -> Any:
    pending = _pending()
    if pending is None:
        return back_to_login("", "expired")
    if not csrf_ok():
        return _confirm_page(pending, 400, FORM_EXPIRED)
    if not _owner_signed_in(pending):
        return _proof_page(pending)
    tenant = current_tenant()
    taken = PendingLinks(services().store).take(tenant.id, pending_link_cookie())
    if taken is None:  # a double submit: the first one decided
        return back_to_login(pending.txn, "expired")
    if request.form.get("decision") == "link":
        try:
            provider = get_provider(services().uow(), tenant, taken.provider)
            link_identity(
                services().uow(),
                tenant,
                taken.user_id,
                provider,
                taken.identity,
                attempt=_attempt(taken),
                usage=services().usage,
            )
        except IdentityTaken:
            return _confirm_page(taken, 409, TAKEN)
        except NotFound:
            return back_to_login(taken.txn, "unavailable")
    return _resume(taken.txn)
