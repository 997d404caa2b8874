"""Connected sign-in providers on the account page (issue 11 §3): connect another provider,
disconnect one, never the last way in.

"Connect" is a form (CSRF) because it adds a way into the account, after a recent sign-in as
adding a passkey needs. Its answer cannot be a redirect to the upstream: browsers apply the
page's CSP `form-action` to the redirects after a form post. So it answers a page that moves
on to the upstream by itself (a meta refresh, a navigation of its own), with a link for the
rare browser that does not.
"""

from __future__ import annotations

from typing import Any

from flask import g
from werkzeug.wrappers import Response

from idp.context import client_ip, current_tenant, services
from idp.http.pages.account import account_page, done
from idp.http.pages.account_access import sign_in_first, signed_in
from idp.http.pages.account_passkeys import recently_signed_in
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok, set_federation_browser_cookie
from idp.http.pages.federation import start_round_trip
from idp.http.pages.federation_messages import ACCOUNT_MESSAGES, LAST_WAY_IN
from idp.http.pages.forms import no_referrer
from idp.http.pages.rendering import render_page
from idp.http.pages.routes import FORM_EXPIRED
from idp.services.errors import NotFound
from idp.services.federation.flow import FLOW_LIFETIME, LINK
from idp.services.federation.linking import LastWayIn, unlink_identity
from idp.services.signin.sessions import Attempt

bp = tenant_pages("account_federation", __name__)


@bp.post("/account/providers/<slug>/link")
def link_submit(slug: str) -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED)
    if not recently_signed_in(session):
        return sign_in_first(fresh=True)
    url, browser, failed = start_round_trip(slug[:64], LINK, "", session.user_id)
    if url is None:
        return account_page(session, 400, message=ACCOUNT_MESSAGES.get(failed or ""))
    response = render_page("pages/federation_redirect.html", url=url)
    set_federation_browser_cookie(response, browser, FLOW_LIFETIME)
    return no_referrer(response)


@bp.post("/account/providers/identities/<int:identity_id>/unlink")
def unlink_submit(identity_id: int) -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED)
    try:
        unlink_identity(
            services().uow(),
            current_tenant(),
            session.user_id,
            identity_id,
            attempt=Attempt(client_ip(), g.get("request_id")),
            usage=services().usage,
        )
    except LastWayIn:
        return account_page(session, 409, message=LAST_WAY_IN)
    except NotFound:
        pass  # gone already, or never this person's: nothing to say either way
    response: Response = done("federation_unlinked")
    return response
