"""Sign-up and e-mail verification pages (issue 9 §2, §3).

`{issuer}/signup` exists only when the tenant lets people sign up; otherwise it answers 404
with a page saying that sign-up is closed (nothing is offered at that URL, and no page links to
it: rendering.page_links). Whether or not the address is taken, a sign-up answers the same
"check your mail" page (services/accounts/registration.py).

The mailed link opens a page with a confirm button, and only its POST confirms the address.
Mail scanners and link previews (Outlook Safe Links, corporate gateways) fetch every link in a
message before the person sees it: had the GET confirmed, a scanner would spend the link, and
confirm an address whose owner never clicked. A GET spends nothing here. The confirmation
leads to the login page of the authorization request the person came with (its `txn` travels
in the link), so they sign in and end at the client. Link pages send no Referer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, g, redirect, request

from idp.context import client_ip, current_tenant, issuer, services
from idp.http.pages.blueprints import tenant_pages
from idp.http.pages.cookies import csrf_ok
from idp.http.pages.forms import PASSWORD_LIMIT, form_field, no_referrer
from idp.http.pages.rendering import FieldError, render_page
from idp.http.pages.routes import (
    FORM_EXPIRED,
    MAX_FIELD,
    TOO_MANY,
    find_transaction,
    icon_origins,
)
from idp.i18n import N_
from idp.services.accounts import registration
from idp.services.accounts.password_reset import Attempt, LinkGone
from idp.services.accounts.registration import (
    Registrar,
    RegistrationClosed,
    Signup,
    Throttled,
)
from idp.services.accounts.users import MIN_PASSWORD
from idp.services.errors import InvalidInput, InvalidInputs
from idp.services.rate_limits import AddressThrottle
from idp.services.tenancy.providers import enabled_providers
from idp.services.tenancy.tenants import TenantView

bp = tenant_pages("signup", __name__)

PASSWORDS_DIFFER = N_("The two passwords are not the same.")
ATTRIBUTE_FIELD = "attributes-"  # + the attribute's name: FieldError's form of attributes.<name>


def _registrar() -> Registrar:
    container = services()
    throttle = current_app.extensions.setdefault(
        "idp.signup_throttle",
        registration.signup_throttle(container.store, container.settings.rate_limits),
    )
    return Registrar(container.passwords, container.mailer, throttle)


def _resend_throttle() -> AddressThrottle:
    container = services()
    return current_app.extensions.setdefault(  # type: ignore[no-any-return]
        "idp.resend_throttle",
        registration.resend_throttle(container.store, container.settings.rate_limits),
    )


def _attempt(txn: str) -> Attempt:
    return Attempt(client_ip(), g.get("request_id"), txn)


def _closed() -> Response:
    return render_page("pages/signup_closed.html", status=404)


def _signup_page(
    txn: str,
    values: dict[str, str] | None = None,
    status: int = 200,
    message: str | None = None,
    errors: Any = (),
) -> Response:
    tenant = current_tenant()
    providers = enabled_providers(services().provider_lookup, tenant)
    return render_page(
        "pages/signup.html",
        transaction=find_transaction(txn),
        status=status,
        image_origins=icon_origins(providers),
        providers=providers,
        federation_base=f"{issuer()}/federation",
        errors=errors,
        txn=txn,
        values=values or {},
        attributes=[a for a in tenant.profile_attributes if a.at_registration],
        attribute_field=ATTRIBUTE_FIELD,
        min_length=max(tenant.password_min_length, MIN_PASSWORD),
        message=message,
        action=f"{issuer()}/signup",
    )


@bp.get("/signup")
def signup_page() -> Response:
    if not current_tenant().self_registration:
        return _closed()
    return _signup_page(request.args.get("txn", "")[:MAX_FIELD])


def _parse_signup(tenant: TenantView) -> tuple[Signup, dict[str, str]]:
    """The form as the service takes it, and the values the page shows again on an error
    (never the passwords). Only the attributes the page asks for are read."""
    attributes = {
        a.name: form_field(ATTRIBUTE_FIELD + a.name)
        for a in tenant.profile_attributes
        if a.at_registration
    }
    shown = {
        "email": form_field("email"),
        "given_name": form_field("given_name"),
        "family_name": form_field("family_name"),
        **{ATTRIBUTE_FIELD + name: value for name, value in attributes.items()},
    }
    password = form_field("password", PASSWORD_LIMIT)
    signup = Signup(shown["email"], password, shown["given_name"], shown["family_name"], attributes)
    return signup, shown


@bp.post("/signup")
def signup_submit() -> Response:
    tenant = current_tenant()
    if not tenant.self_registration:
        return _closed()
    txn = form_field("txn")
    signup, values = _parse_signup(tenant)
    if not csrf_ok():
        return _signup_page(txn, values, 400, FORM_EXPIRED)
    if signup.password != form_field("password_confirm", PASSWORD_LIMIT):
        return _signup_page(
            txn, values, 400, errors=[FieldError("password_confirm", PASSWORDS_DIFFER)]
        )
    try:
        registration.register(services().uow(), _registrar(), tenant, signup, _attempt(txn))
    except RegistrationClosed:
        return _closed()
    except (InvalidInput, InvalidInputs) as error:
        return _signup_page(txn, values, 400, errors=FieldError.all_of(error))
    except Throttled as throttled:
        response = _signup_page(txn, values, 429, TOO_MANY)
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    # The same page whether or not the address was free (DESIGN §7); it is not even repeated.
    return render_page("pages/signup_sent.html", transaction=find_transaction(txn), txn=txn)


def _link_gone() -> Response:
    return no_referrer(render_page("pages/signup_verify_gone.html", status=400))


@bp.get("/email/verify")
def verify_page() -> Response:
    token = request.args.get("token", "")[:MAX_FIELD]
    txn = registration.verification_txn(services().uow(), current_tenant(), token)
    if txn is None:
        return _link_gone()
    return no_referrer(
        render_page(
            "pages/signup_verify.html",
            transaction=find_transaction(txn),
            token=token,
            action=f"{issuer()}/email/verify",
        )
    )


@bp.post("/email/verify")
def verify_submit() -> Any:
    token = form_field("token")
    if not csrf_ok():
        txn = registration.verification_txn(services().uow(), current_tenant(), token)
        if txn is None:
            return _link_gone()
        return no_referrer(
            render_page(
                "pages/signup_verify.html",
                transaction=find_transaction(txn),
                status=400,
                token=token,
                message=FORM_EXPIRED,
                action=f"{issuer()}/email/verify",
            )
        )
    try:
        txn = registration.verify_email(services().uow(), current_tenant(), token, _attempt(""))
    except LinkGone:
        return _link_gone()
    query = {"verified": "1", **({"txn": txn} if find_transaction(txn) else {})}
    return no_referrer(redirect(f"{issuer()}/login?{urlencode(query)}", 303))


def _resend_page(
    txn: str, email: str = "", status: int = 200, message: str | None = None, errors: Any = ()
) -> Response:
    return render_page(
        "pages/signup_resend.html",
        transaction=find_transaction(txn),
        status=status,
        errors=errors,
        txn=txn,
        email=email,
        message=message,
        action=f"{issuer()}/email/verify/resend",
    )


@bp.get("/email/verify/resend")
def resend_page() -> Response:
    return _resend_page(request.args.get("txn", "")[:MAX_FIELD])


@bp.post("/email/verify/resend")
def resend_submit() -> Response:
    txn, email = form_field("txn"), form_field("email")
    if not csrf_ok():
        return _resend_page(txn, email, 400, FORM_EXPIRED)
    container = services()
    try:
        registration.resend_verification(
            container.uow(),
            container.mailer,
            _resend_throttle(),
            current_tenant(),
            email,
            _attempt(txn),
        )
    except InvalidInput:
        error = FieldError("email", registration.BAD_EMAIL)
        return _resend_page(txn, email, 400, errors=[error])
    except Throttled as throttled:
        response = _resend_page(txn, email, 429, TOO_MANY)
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    # The same page for every address: unknown, verified or waiting.
    return render_page("pages/signup_resend_sent.html", transaction=find_transaction(txn))
