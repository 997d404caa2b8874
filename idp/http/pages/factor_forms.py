"""What the second-factor pages share: the verifier, the enrolment page with its QR code, and
the one-time display of recovery codes. Used by the sign-in step (mfa.py) and the account page
(account_factors.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect
from markupsafe import Markup

from idp.context import current_tenant, issuer, services
from idp.http.pages.cookies import set_session_cookie
from idp.http.pages.rendering import FieldError, render_page
from idp.i18n import N_
from idp.services.accounts.users import get_user
from idp.services.factors import totp
from idp.services.factors.second_step import SteppedUp, Verifier
from idp.services.factors.throttle import FactorThrottle
from idp.services.signin.authorization import Transaction
from idp.services.signin.sessions import SessionView

MAX_CODE_FIELD = 128
WRONG_CODE = N_("That code is not right, or it was already used. Try the newest code.")
WRONG_FIRST_CODE = N_("That code is not right. Type the code your app shows now.")
WAIT = N_("Too many wrong codes. Please wait a few minutes and try again.")
PASSKEY_ONLY = N_(
    "This app asks for a passkey for this sign-in, unlocked with your PIN, fingerprint or "
    "face. A code will not do."
)


def verifier() -> Verifier:
    container = services()
    return Verifier(container.kek, FactorThrottle(container.store), container.lockout())


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code: drawn by us, nothing loaded from elsewhere
    (DESIGN §11), no script or style, so our CSP needs no exception. The page's `qr-label`
    paragraph names it for screen readers; the secret is on the page as text too. segno is
    loaded here, at the first enrolment, not in every worker at start."""
    import segno

    svg = segno.make(uri, error="m").svg_inline(scale=4, svgclass="qr")
    labelled = svg.replace("<svg ", '<svg role="img" aria-labelledby="qr-label" ', 1)
    return Markup(labelled)  # noqa: S704 - segno's SVG of a URI we built


def enrolment_page(
    session: SessionView,
    action: str,
    transaction: Transaction | None = None,
    status: int = 200,
    errors: tuple[FieldError, ...] = (),
    back: str | None = None,
) -> Any:
    """The page that shows a new authenticator's secret (QR code and text) and asks for its
    first code; someone who enrolled meanwhile (another tab) goes to where codes are typed."""
    tenant = current_tenant()
    email = get_user(services().uow(), tenant, session.subject).email
    try:
        enrolment = totp.begin_enrolment(
            services().uow(), services().kek, tenant.id, session.user_id, email, tenant.name
        )
    except totp.AlreadyEnrolled:
        if transaction is None:
            return redirect(f"{issuer()}/account", 303)
        return redirect(f"{issuer()}/mfa?{urlencode({'txn': transaction.id})}", 303)
    response = render_page(
        "pages/totp_enrol.html",
        transaction=transaction,
        status=status,
        errors=errors,
        qr=qr_svg(enrolment.uri),
        secret=enrolment.secret,
        action=action,
        txn=transaction.id if transaction else "",
        back=back,
    )
    response.headers["Cache-Control"] = "no-store"  # it shows the secret
    return response


def recovery_codes_page(
    codes: list[str],
    next_url: str,
    transaction: Transaction | None = None,
    stepped: SteppedUp | None = None,
) -> Response:
    """The only time the codes are ever shown; a session that just gave its second factor
    (`stepped`) gets its new cookie with them."""
    response = render_page(
        "pages/recovery_codes.html", transaction=transaction, codes=codes, next_url=next_url
    )
    response.headers["Cache-Control"] = "no-store"
    if stepped is not None:
        set_session_cookie(response, stepped.cookie, stepped.max_age)
    return response
