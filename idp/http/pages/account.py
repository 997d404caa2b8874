"""The account page at {issuer}/account (issue 9 §6): the person's profile, picture and
e-mail address; sessions, apps and deletion are in account_security.py.

Every form posts to its own URL with the CSRF token and, when it worked, redirects back to
the page with `done` naming what to confirm (POST/redirect/GET: a reload repeats nothing);
when it did not, the page is shown again with the error summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, redirect, request
from werkzeug.exceptions import RequestEntityTooLarge

from idp.context import current_tenant, issuer, services
from idp.http.pages.account_access import (
    attempt,
    login_throttle,
    sign_in_first,
    signed_in,
)
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok
from idp.http.pages.federation_messages import ACCOUNT_MESSAGES
from idp.http.pages.rendering import FieldError, render_page
from idp.http.pages.routes import FORM_EXPIRED, MAX_FIELD, TOO_MANY
from idp.i18n import N_
from idp.services.accounts import email_change, pictures, profile
from idp.services.accounts.account_sessions import list_sessions
from idp.services.accounts.connected_apps import list_connected_apps
from idp.services.accounts.password_reset import WrongPassword
from idp.services.errors import InvalidInput, NotFound
from idp.services.factors.enrolment import factor_status
from idp.services.factors.passkeys import list_passkeys
from idp.services.factors.policy import POLICY_OFF
from idp.services.federation.linking import list_identities
from idp.services.rate_limits import WindowLimiter
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.providers import enabled_providers

bp = tenant_pages("account", __name__)

WRONG_CURRENT = N_("Your current password is not right.")
# What the page confirms after a form worked, by the `done` it was redirected with.
DONE = {
    "profile": N_("Your profile was saved."),
    "picture": N_("Your picture was saved."),
    "picture_removed": N_("Your picture was removed."),
    "email": N_("We have sent a link to the new address. Your address changes when you follow it."),
    "session": N_("The session was ended."),
    "sessions": N_("Your other sessions were ended."),
    "app": N_("The app can no longer use your account."),
    "totp": N_("Two-step sign-in is on. Keep your recovery codes somewhere safe."),
    "codes": N_("You have new recovery codes. The old ones no longer work."),
    "totp_removed": N_("Two-step sign-in is off."),
    "passkey": N_("Your passkey was added."),
    "passkey_removed": N_("The passkey was removed."),
    "federation_linked": N_("The provider is connected. You can now sign in with it."),
    "federation_unlinked": N_("The provider is disconnected."),
}
# The upload's own limit, plus room for the rest of the multipart form.
PICTURE_BODY_LIMIT = pictures.MAX_UPLOAD + 64 * 1024


def account_page(
    session: SessionView,
    status: int = 200,
    errors: Sequence[FieldError] = (),
    message: str | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    """The whole account page; `values` refill a form that was refused."""
    container, tenant = services(), current_tenant()
    try:
        person = profile.read_profile(container.uow(), tenant, session)
    except NotFound:  # deleted a moment ago
        return sign_in_first()
    return render_page(
        "pages/account.html",
        status=status,
        errors=errors,
        # Back from linking a provider without a link (pages/federation.py): a fixed message.
        message=message or ACCOUNT_MESSAGES.get(request.args.get("federation", "")),
        notice=DONE.get(request.args.get("done", "")),
        person=person,
        values=values or {},
        declared=tenant.profile_attributes,
        sessions=list_sessions(container.uow(), tenant, session),
        apps=list_connected_apps(container.uow(), tenant, session),
        can_delete=tenant.account_deletion,
        factors=factor_status(container.uow(), tenant.id, session.user_id),
        factors_offered=tenant.mfa_policy != POLICY_OFF,
        passkeys=list_passkeys(container.uow(), tenant.id, session.user_id),
        identities=list_identities(container.uow(), tenant, session.user_id),
        link_providers=enabled_providers(container.provider_lookup, tenant),
        base=issuer(),
    )


def done(what: str) -> Any:
    return redirect(f"{issuer()}/account?done={what}", 303)


@bp.get("/account")
def overview() -> Any:
    session = signed_in()
    return account_page(session) if session else sign_in_first()


@bp.post("/account/profile")
def profile_submit() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    form = request.form
    edit = profile.ProfileEdit(
        given_name=form.get("given_name", "")[:MAX_FIELD],
        family_name=form.get("family_name", "")[:MAX_FIELD],
        name=form.get("name", "")[:MAX_FIELD],
        attributes={
            attribute.name: form.get(f"attributes-{attribute.name}", "")[:MAX_FIELD]
            for attribute in current_tenant().profile_attributes
        },
    )
    values = {"profile": edit}
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED, values=values)
    try:
        profile.update_profile(services().uow(), current_tenant(), session, edit, attempt())
    except InvalidInput as error:
        return account_page(session, 400, FieldError.all_of(error), values=values)
    return done("profile")


@bp.post("/account/picture")
def picture_submit() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    request.max_content_length = PICTURE_BODY_LIMIT
    try:
        upload = request.files.get("picture")
        content = upload.stream.read(pictures.MAX_UPLOAD + 1) if upload else b""
        valid = csrf_ok()
    except RequestEntityTooLarge:
        too_big = [FieldError("picture", pictures.TOO_BIG)]
        return account_page(session, 413, too_big)
    if not valid:
        return account_page(session, 400, message=FORM_EXPIRED)
    try:
        pictures.set_picture(
            services().uow(), current_tenant(), issuer(), session, content, attempt()
        )
    except InvalidInput as error:
        return account_page(session, 400, FieldError.all_of(error))
    return done("picture")


@bp.post("/account/picture/remove")
def picture_remove() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED)
    pictures.remove_picture(services().uow(), current_tenant(), session, attempt())
    return done("picture_removed")


@bp.post("/account/email")
def email_submit() -> Any:
    session = signed_in()
    if session is None:
        return sign_in_first()
    new_email = request.form.get("new_email", "")[:MAX_FIELD]
    values = {"new_email": new_email}
    if not csrf_ok():
        return account_page(session, 400, message=FORM_EXPIRED, values=values)
    container = services()
    try:
        email_change.request_email_change(
            container.uow(),
            container.mailer,
            container.passwords,
            login_throttle(),
            _email_change_limiter(),
            current_tenant(),
            session,
            new_email,
            request.form.get("email_password", "")[: MAX_FIELD + 1],
            attempt(),
        )
    except InvalidInput as error:
        return account_page(session, 400, FieldError.all_of(error), values=values)
    except WrongPassword as refused:
        if refused.throttled:
            return account_page(session, 429, message=TOO_MANY, values=values)
        wrong = [FieldError("email_password", WRONG_CURRENT)]
        return account_page(session, 400, wrong, values=values)
    except email_change.EmailChangeThrottled as throttled:
        response = account_page(session, 429, message=TOO_MANY, values=values)
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    return done("email")


def _email_change_limiter() -> WindowLimiter:
    # As many as password reset mails per address: both send mail on a person's request.
    container = services()
    limits = container.settings.rate_limits
    return WindowLimiter(
        container.store,
        "email-change",
        limits.password_resets_per_address,
        limits.password_reset_window_seconds,
    )
