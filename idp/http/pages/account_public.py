"""What the account page publishes or mails, reached without a session: profile pictures at
their stable URL (the `picture` claim) and the link that confirms a new e-mail address."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from werkzeug.exceptions import NotFound

from idp.context import current_tenant, issuer, services
from idp.http.pages.account_access import attempt
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok
from idp.http.pages.forms import no_referrer
from idp.http.pages.rendering import render_page
from idp.http.pages.routes import FORM_EXPIRED, MAX_FIELD
from idp.services.accounts.email_change import (
    AddressTaken,
    confirm_email_change,
    email_change_pending,
)
from idp.services.accounts.password_reset import LinkGone
from idp.services.accounts.pictures import find_picture

bp = tenant_pages("account_public", __name__)

# A new picture gets a new URL, so a picture never changes under its URL: caches may keep it a
# day (not for ever: a removed picture should stop being shown).
PICTURE_CACHE = "public, max-age=86400"


@bp.get("/pictures/<public_id>")
def picture(public_id: str) -> Response:
    found = find_picture(services().uow(), current_tenant(), public_id)
    if found is None:
        raise NotFound()
    response = Response(found.content, mimetype=found.content_type)
    response.headers["Cache-Control"] = PICTURE_CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # apps show it
    return response


def _confirm_page(token: str, address: str, status: int = 200, message: str | None = None) -> Any:
    return no_referrer(
        render_page(
            "pages/email_confirm.html",
            status=status,
            token=token,
            address=address,
            message=message,
            action=f"{issuer()}/email/confirm",
        )
    )


def _gone() -> Response:
    return no_referrer(render_page("pages/email_link_gone.html", status=400))


@bp.get("/email/confirm")
def confirm_page() -> Any:
    """Shows the address and a button: mail scanners that follow links spend nothing."""
    token = request.args.get("token", "")[:MAX_FIELD]
    address = email_change_pending(services().uow(), current_tenant(), token)
    return _gone() if address is None else _confirm_page(token, address)


@bp.post("/email/confirm")
def confirm_submit() -> Any:
    token = request.form.get("token", "")[:MAX_FIELD]
    address = email_change_pending(services().uow(), current_tenant(), token)
    if address is None:
        return _gone()
    if not csrf_ok():
        return _confirm_page(token, address, 400, FORM_EXPIRED)
    try:
        address = confirm_email_change(services().uow(), current_tenant(), token, attempt())
    except LinkGone:
        return _gone()
    except AddressTaken:
        return no_referrer(render_page("pages/email_taken.html", status=409))
    return no_referrer(render_page("pages/email_changed.html", address=address))
